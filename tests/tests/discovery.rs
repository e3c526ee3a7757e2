//! Generic gRPC tooling works without our .proto files: health checks and
//! server reflection.

use minikafka_tests::TestServer;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test]
async fn health_reports_serving_for_the_server_and_each_service() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "minikafka.v1.MiniKafka", "protocol.MiniKafka"] {
        let request = HealthCheckRequest {
            service: service.into(),
        };
        let status = health
            .check(request)
            .await
            .expect("check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
}

#[tokio::test]
async fn reflection_lists_our_services_and_describes_them() {
    let server = TestServer::start().await;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let requests = tokio_stream::iter([
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "minikafka.v1.MiniKafka".into(),
            )),
        },
    ]);
    let mut replies = reflection
        .server_reflection_info(requests)
        .await
        .expect("reflection")
        .into_inner();

    let listed = replies
        .next()
        .await
        .expect("a reply")
        .expect("ok")
        .message_response;
    let Some(MessageResponse::ListServicesResponse(list)) = listed else {
        panic!("expected a service list: {listed:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "minikafka.v1.MiniKafka",
        "protocol.MiniKafka",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    let file = replies
        .next()
        .await
        .expect("a reply")
        .expect("ok")
        .message_response;
    let Some(MessageResponse::FileDescriptorResponse(files)) = file else {
        panic!("expected descriptors: {file:?}")
    };
    assert!(!files.file_descriptor_proto.is_empty());
}
