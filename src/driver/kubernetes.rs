//! The `kubernetes` driver: BuildKit pods in an existing cluster, reached
//! through the Kubernetes API (`kube`), as buildx's `driver/kubernetes`.
