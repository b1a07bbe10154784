# Figures of docs/lsp-builders.md: listBuilders, useBuilder -> re-published diagnostics, hover.
# Usage: python3 tests/lsp_support/measure_builders.py target/debug/buildkit-lsp
import json, os, subprocess, sys, tempfile, time, threading, statistics
bin_ = sys.argv[1]
home = tempfile.mkdtemp()
env = dict(os.environ, HOME=home, DOCKER_CONFIG=home+"/docker", BUILDX_CONFIG=home+"/docker/buildx",
           DOCKER_HOST="unix:///var/run/docker.sock", BUILDX_BUILDER="", DOCKER_CONTEXT="")
subprocess.run([bin_, "builder", "create", "--name", "dc1", "--driver", "docker-container", "--driver-opt", "network=host"], env=env, check=True, capture_output=True)
work = tempfile.mkdtemp()
open(work+"/Dockerfile","w").write("FROM busybox:test\nRUN echo hi\n")
open(work+"/docker-bake.hcl","w").write('target "app" {\n  cache-to = ["type=registry,ref=127.0.0.1:5000/cache"]\n}\n')
p = subprocess.Popen([bin_], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
msgs = []; cv = threading.Condition()
def reader():
    f = p.stdout
    while True:
        line = f.readline()
        if not line: return
        n = None
        while line.strip():
            if line.lower().startswith(b"content-length:"): n = int(line.split(b":")[1])
            line = f.readline()
        m = json.loads(f.read(n))
        with cv:
            msgs.append((time.monotonic(), m)); cv.notify_all()
        if "id" in m and "method" in m:
            send({"jsonrpc":"2.0","id":m["id"],"result":None})
lock = threading.Lock()
def send(m):
    b = json.dumps(m).encode()
    with lock:
        p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(b) + b); p.stdin.flush()
threading.Thread(target=reader, daemon=True).start()
nid = [0]
def req(method, params):
    nid[0] += 1; i = nid[0]; t = time.monotonic()
    send({"jsonrpc":"2.0","id":i,"method":method,"params":params})
    with cv:
        while True:
            for ts, m in msgs:
                if m.get("id") == i and "method" not in m: return ts - t, m
            cv.wait(10)
def wait_for(pred, after):
    with cv:
        while True:
            for ts, m in msgs:
                if ts >= after and pred(m): return ts
            cv.wait(10)
req("initialize", {"processId": None, "rootUri": None, "capabilities": {"workspace":{"codeLens":{"refreshSupport":True}}}, "workspaceFolders":[{"uri":"file://"+work,"name":"w"}]})
send({"jsonrpc":"2.0","method":"initialized","params":{}})
df = "file://"+work+"/Dockerfile"
send({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":df,"languageId":"dockerfile","version":1,"text":"FROM busybox:test\nRUN echo hi\n"}}})
time.sleep(1.5)
lst = [req("workspace/executeCommand", {"command":"buildkit.listBuilders","arguments":[]})[0] for _ in range(10)]
def codes(m): return [d.get("code") for d in m["params"]["diagnostics"]]
sw = []
for i in range(10):
    name = "dc1" if i % 2 == 0 else "default"
    want = "BuilderLoadMissing" if name == "dc1" else "BuilderCacheExport"
    t0 = time.monotonic()
    req("workspace/executeCommand", {"command":"buildkit.useBuilder","arguments":[name]})
    ts = wait_for(lambda m: m.get("method")=="textDocument/publishDiagnostics" and m["params"]["uri"]==df and want in codes(m), t0)
    sw.append(ts - t0)
hov = [req("textDocument/hover", {"textDocument":{"uri":df},"position":{"line":1,"character":1}})[0] for _ in range(20)]
ms = lambda xs: "median %.1f ms, max %.1f ms" % (statistics.median(xs)*1000, max(xs)*1000)
print("listBuilders (default + dc1):", ms(lst))
print("useBuilder -> re-published capability diagnostics:", ms(sw))
print("hover:", ms(hov))
p.kill()
