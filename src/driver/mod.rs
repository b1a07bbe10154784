//! Where BuildKit runs: one driver per kind (docker, docker-container,
//! kubernetes, remote). A driver's only job is to report its features and to
//! open a duplex byte stream to a BuildKit gRPC endpoint.
