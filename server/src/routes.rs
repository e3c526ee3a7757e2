//! Routes: what the server answers, apart from how connections arrive
//! (see `transport`). The v1 API and the original Go project's API over
//! one [`CheckedStore`], health, and reflection; every service but health
//! behind the token check.
//!
//! A new service is one more `auth.guard(...)` line in [`routes`] and, if it
//! reports health, one `set_serving` line.

use std::sync::Arc;

use minikafka_proto::{protocol, v1};
use tonic_health::server::HealthReporter;

use crate::ServeError;
use crate::auth::{Authenticator, Tokens};
use crate::service::checked_store::CheckedStore;
use crate::service::{compat::CompatService, v1::V1Service};

/// Every service, and the reporter that tells health checks whether they
/// serve.
pub async fn routes(
    store: CheckedStore,
    tokens: Option<Arc<Tokens>>,
    max_request_bytes: usize,
) -> Result<(tonic::service::Routes, HealthReporter), ServeError> {
    match &tokens {
        Some(tokens) => {
            tracing::info!(tokens = ?tokens.names(), "clients need a token (MINIKAFKA_AUTH_FILE)");
        }
        None => tracing::warn!(
            "no MINIKAFKA_AUTH_FILE: every client may produce to and read every topic"
        ),
    }
    let auth = Authenticator(tokens);

    let v1 = v1::mini_kafka_server::MiniKafkaServer::new(V1Service::new(store.clone()))
        .max_decoding_message_size(max_request_bytes);
    let compat = protocol::mini_kafka_server::MiniKafkaServer::new(CompatService::new(store))
        .max_decoding_message_size(max_request_bytes);

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<v1::mini_kafka_server::MiniKafkaServer<V1Service>>()
        .await;
    health
        .set_serving::<protocol::mini_kafka_server::MiniKafkaServer<CompatService>>()
        .await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(minikafka_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let mut routes = tonic::service::Routes::builder();
    routes
        // Load balancers ask for health without a token.
        .add_service(health_service)
        // Both versions: grpcurl and most tools speak v1, older ones v1alpha.
        .add_service(auth.guard(reflection().build_v1()?))
        .add_service(auth.guard(reflection().build_v1alpha()?))
        .add_service(auth.guard(v1))
        .add_service(auth.guard(compat));
    Ok((routes.routes(), health))
}
