//! A small HTTP round-robin balancer for multi-pod tests, with the retry
//! rule of production balancers (nginx `proxy_next_upstream error
//! non_idempotent`): a request whose pod fails before sending response
//! headers (refused, or killed mid-call) is sent to the next pod at once
//! (after a pause only when every pod failed in a row). Bodies, SSE
//! included, stream through.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use futures::TryStreamExt;

struct Pods {
    ports: Vec<u16>,
    next: AtomicUsize,
    client: reqwest::Client,
    /// Requests re-sent to another pod.
    retried: AtomicUsize,
}

/// A running balancer.
pub struct Balancer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    pods: Arc<Pods>,
}

impl Balancer {
    /// Starts a balancer over pods listening on `ports` (127.0.0.1).
    pub async fn start(ports: Vec<u16>) -> Balancer {
        let pods = Arc::new(Pods {
            ports,
            next: AtomicUsize::new(0),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            retried: AtomicUsize::new(0),
        });
        let app = axum::Router::new().fallback(proxy).with_state(pods.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Balancer { port, pods }
    }

    /// Requests the balancer re-sent to another pod so far.
    pub fn retried(&self) -> usize {
        self.pods.retried.load(Ordering::Relaxed)
    }
}

async fn proxy(State(pods): State<Arc<Pods>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut headers = parts.headers.clone();
    headers.remove(http::header::HOST);
    let n = pods.ports.len();
    let first = pods.next.fetch_add(1, Ordering::Relaxed);
    for attempt in 1..=n * 20 {
        let i = (first + attempt - 1) % n;
        let url = format!("http://127.0.0.1:{}{path}", pods.ports[i]);
        let sent = pods
            .client
            .request(parts.method.clone(), &url)
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => {
                let mut out = Response::builder().status(answer.status());
                for (k, v) in answer.headers() {
                    out = out.header(k, v);
                }
                let stream = answer.bytes_stream().map_err(std::io::Error::other);
                return out.body(Body::from_stream(stream)).unwrap();
            }
            Err(_) => {
                pods.retried.fetch_add(1, Ordering::Relaxed);
                // The next pod at once, as nginx does; a pause only once
                // every pod failed in a row.
                if attempt % n == 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Response::builder()
        .status(502)
        .body(Body::from("no pod answered"))
        .unwrap()
}
