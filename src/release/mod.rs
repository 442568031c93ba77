//! Release models: Helm 3 (JSON) and Helm 2 (hapi protobuf).
