//! [`Client`]: a connection to a server, and the calls that are not about
//! producing or consuming.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Response, Status, Streaming};

use crate::admin::{EffectiveSettings, effective_settings};
use crate::{ClientError, Consumer, OffsetRange, Position, Producer, endpoint_uri};

/// Replies up to this size are accepted. The server bounds its replies (a
/// poll returns at most 2 MiB, or one message of up to the server's 1 GiB
/// message limit), so this only guards against a misbehaving peer.
const MAX_REPLY_BYTES: usize = (1 << 30) + (1 << 20);

/// What a client needs for a server reached over TLS (`https://`).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM certificate(s) of the authority that signed the server's
    /// certificate.
    pub ca_certificate: Option<Vec<u8>>,
    /// PEM certificate and private key to present when the server requires
    /// client certificates (mutual TLS).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// A connection to a minikafka server.
///
/// Cloning is cheap and shares the connection; so do the [`Producer`]s and
/// [`Consumer`]s made from it.
#[derive(Debug, Clone)]
pub struct Client {
    grpc: MiniKafkaClient<Channel>,
    /// The address as the user gave it, to name it in errors.
    address: Arc<str>,
    timeout: Option<Duration>,
    /// `Bearer <token>`, sent with every call when set.
    authorization: Option<MetadataValue<Ascii>>,
}

/// The state of one topic, as [`Client::describe_topic`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: String,
    /// The earliest offset still retained; equal to `next_offset` when empty.
    pub earliest_offset: u64,
    /// The offset the next message will get.
    pub next_offset: u64,
    /// How many messages the topic holds.
    pub message_count: u64,
    /// The payload bytes the topic holds.
    pub size_bytes: u64,
    /// When the earliest retained message was stored; `None` when empty.
    pub oldest_timestamp: Option<SystemTime>,
    /// The topic's settings as they apply, each with its source; `None`
    /// from a server older than topic settings.
    pub settings: Option<EffectiveSettings>,
}

impl Client {
    /// Connects to `address` (`host:port`, `:port` or a URL) in plain text.
    /// For an `https://` address use [`connect_with`](Self::connect_with).
    pub async fn connect(address: &str) -> Result<Self, ClientError> {
        Self::connect_with(address, &TlsOptions::default()).await
    }

    /// Connects to `address` with `tls`: an `https://` address is reached
    /// over TLS, trusting `tls.ca_certificate` and presenting
    /// `tls.identity` if the server asks for a client certificate.
    pub async fn connect_with(address: &str, tls: &TlsOptions) -> Result<Self, ClientError> {
        let channel = endpoint(address, tls)?
            .connect()
            .await
            .map_err(|error| ClientError::unreachable(address, &error))?;
        Ok(Self::with_address(channel, address))
    }

    /// Like [`connect_with`](Self::connect_with), but connects on the first
    /// call instead of now, so it succeeds while the server is down; a call
    /// made while it still is fails with [`ClientError::Connect`]. (Every
    /// client reconnects by itself on a later call after losing its
    /// connection.) Call it inside a Tokio runtime.
    pub fn connect_lazily(address: &str, tls: &TlsOptions) -> Result<Self, ClientError> {
        let channel = endpoint(address, tls)?.connect_lazy();
        Ok(Self::with_address(channel, address))
    }

    /// Uses an existing channel, for callers that configure their own
    /// (TLS, load balancing).
    pub fn from_channel(channel: Channel) -> Self {
        Self::with_address(channel, "the server")
    }

    /// `address` is how errors name the server.
    fn with_address(channel: Channel, address: &str) -> Self {
        let grpc = MiniKafkaClient::new(channel).max_decoding_message_size(MAX_REPLY_BYTES);
        Self {
            grpc,
            address: address.into(),
            timeout: None,
            authorization: None,
        }
    }

    /// Fails each call that takes longer than `timeout` with
    /// [`ClientError::Timeout`]; the server is told the deadline too, so it
    /// can drop the work. Producers and consumers made afterwards inherit it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends `token` with every call (`authorization: Bearer <token>`), for
    /// a server with tokens (`MINIKAFKA_AUTH_FILE`). Producers and consumers
    /// made afterwards inherit it.
    pub fn with_token(mut self, token: &str) -> Result<Self, ClientError> {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| ClientError::InvalidToken)?;
        self.authorization = Some(value);
        Ok(self)
    }

    /// A producer for `topic`.
    pub fn producer(&self, topic: impl Into<String>) -> Producer {
        Producer::new(self.clone(), topic.into())
    }

    /// A consumer of `topic`, starting at `from`.
    pub fn consumer(&self, topic: impl Into<String>, from: Position) -> Consumer {
        Consumer::new(self.clone(), topic.into(), from)
    }

    /// Every topic, sorted by name, fetched a page at a time (the server's
    /// default page size).
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>, ClientError> {
        let mut topics = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = v1::ListTopicsRequest {
                page_size: 0,
                page_token,
            };
            let reply = self
                .call(request, |mut grpc, request| async move {
                    grpc.list_topics(request).await
                })
                .await?;
            topics.extend(reply.topics.into_iter().map(topic_info));
            if reply.next_page_token.is_empty() {
                return Ok(topics);
            }
            page_token = reply.next_page_token;
        }
    }

    /// One topic; a topic that does not exist fails with code `NotFound`.
    pub async fn describe_topic(&self, topic: &str) -> Result<TopicInfo, ClientError> {
        let request = v1::DescribeTopicRequest {
            topic: topic.to_owned(),
        };
        let reply = self
            .call(request, |mut grpc, request| async move {
                grpc.describe_topic(request).await
            })
            .await?;
        Ok(topic_info(reply))
    }

    /// Makes one `Produce` call: stores the request's messages in order
    /// and atomically.
    pub(crate) async fn produce(
        &self,
        request: v1::ProduceRequest,
    ) -> Result<OffsetRange, ClientError> {
        let reply = self
            .call(request, |mut grpc, request| async move {
                grpc.produce(request).await
            })
            .await?;
        Ok(OffsetRange {
            first: reply.first_offset,
            last: reply.last_offset,
        })
    }

    /// The error for a status a call to this client's server ended with.
    pub(crate) fn error(&self, status: Status) -> ClientError {
        ClientError::from_status(status, &self.address)
    }

    /// Makes one call, within the timeout if one is set.
    pub(crate) async fn call<Req, Reply, Fut>(
        &self,
        message: Req,
        call: impl FnOnce(MiniKafkaClient<Channel>, tonic::Request<Req>) -> Fut,
    ) -> Result<Reply, ClientError>
    where
        Fut: Future<Output = Result<Response<Reply>, Status>>,
    {
        self.call_waiting(message, Duration::ZERO, call).await
    }

    /// Makes one call that the server may hold for up to `wait` (a long
    /// poll): the timeout, if one is set, counts from the end of the wait.
    pub(crate) async fn call_waiting<Req, Reply, Fut>(
        &self,
        message: Req,
        wait: Duration,
        call: impl FnOnce(MiniKafkaClient<Channel>, tonic::Request<Req>) -> Fut,
    ) -> Result<Reply, ClientError>
    where
        Fut: Future<Output = Result<Response<Reply>, Status>>,
    {
        let mut request = tonic::Request::new(message);
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        let grpc = self.grpc.clone();
        let reply = match self.timeout {
            None => call(grpc, request).await.map_err(|s| self.error(s))?,
            Some(timeout) => {
                let deadline = timeout + wait;
                request.set_timeout(deadline);
                let started = std::time::Instant::now();
                match tokio::time::timeout(deadline, call(grpc, request)).await {
                    Err(_) => return Err(ClientError::Timeout(deadline)),
                    // The server enforces the same deadline and may answer
                    // first, with CANCELLED ("Timeout expired"): it is the
                    // same timeout.
                    Ok(Err(status))
                        if status.code() == tonic::Code::Cancelled
                            && started.elapsed() >= deadline =>
                    {
                        return Err(ClientError::Timeout(deadline));
                    }
                    Ok(reply) => reply.map_err(|s| self.error(s))?,
                }
            }
        };
        Ok(reply.into_inner())
    }

    /// Opens a `Subscribe` stream (the timeout, if set, bounds only the
    /// wait for the server to accept it).
    pub(crate) async fn subscribe(
        &self,
        request: v1::SubscribeRequest,
    ) -> Result<Streaming<v1::PollResponse>, ClientError> {
        self.call(request, |mut grpc, request| async move {
            grpc.subscribe(request).await
        })
        .await
    }
}

/// The endpoint for `address`, with TLS when it is an `https://` URL.
fn endpoint(address: &str, tls: &TlsOptions) -> Result<Endpoint, ClientError> {
    let uri = endpoint_uri(address)?;
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|_| ClientError::InvalidAddress(address.to_owned()))?
        .tcp_nodelay(true);
    if uri.starts_with("https://") {
        let mut config = ClientTlsConfig::new();
        match &tls.ca_certificate {
            Some(pem) => config = config.ca_certificate(Certificate::from_pem(pem)),
            None => return Err(ClientError::MissingCa(address.to_owned())),
        }
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|error| ClientError::unreachable(address, &error))?;
    }
    Ok(endpoint)
}

/// A protobuf timestamp as a wall-clock time (the server never sends one
/// before 1970).
pub(crate) fn system_time(t: Option<prost_types::Timestamp>) -> SystemTime {
    let t = t.unwrap_or_default();
    let since_epoch = Duration::new(
        u64::try_from(t.seconds).unwrap_or(0),
        u32::try_from(t.nanos).unwrap_or(0),
    );
    SystemTime::UNIX_EPOCH + since_epoch
}

/// A topic's description as the client reports it.
pub(crate) fn topic_info(info: v1::TopicInfo) -> TopicInfo {
    TopicInfo {
        name: info.name,
        earliest_offset: info.earliest_offset,
        next_offset: info.next_offset,
        message_count: info.message_count,
        size_bytes: info.size_bytes,
        oldest_timestamp: info.oldest_timestamp.map(|t| system_time(Some(t))),
        settings: effective_settings(info.settings),
    }
}
