//! A side door's end: a request in progress when it stops is still answered, an idle
//! kept-alive connection does not hold the stop, and nothing new is accepted after it.

use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{HttpListener, HttpOptions, bind_tcp, serve_until};

type Door = (String, CancellationToken, tokio::task::JoinHandle<()>);

/// A door on 127.0.0.1 whose every answer takes `answer_after`; its address, its stop token
/// and the task serving it.
async fn door(answer_after: Duration) -> Door {
    door_answering(
        answer_after,
        Bytes::from_static(b"done"),
        Duration::from_secs(5),
    )
    .await
}

/// A door answering `body` after `answer_after`, with the header timeout `read_timeout`.
async fn door_answering(answer_after: Duration, body: Bytes, read_timeout: Duration) -> Door {
    let listener = bind_tcp("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let options = HttpOptions {
        what: "test",
        read_timeout,
        keep_alive: true,
        max_connections: 4,
    };
    let stop = CancellationToken::new();
    let served = tokio::spawn(serve_until(
        HttpListener::Tcp(listener),
        options,
        stop.clone(),
        move |_req: Request<hyper::body::Incoming>| {
            let body = body.clone();
            async move {
                tokio::time::sleep(answer_after).await;
                Response::new(Full::new(body))
            }
        },
    ));
    (address, stop, served)
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: door\r\n\r\n";

/// Stop the door and wait for it to close, at most `limit`; how long it took.
async fn stop_within(
    stop: &CancellationToken,
    served: tokio::task::JoinHandle<()>,
    limit: Duration,
) -> Duration {
    let stopping = Instant::now();
    stop.cancel();
    tokio::time::timeout(limit, served)
        .await
        .unwrap_or_else(|_| panic!("the door still open {limit:?} after the stop"))
        .unwrap();
    stopping.elapsed()
}

/// Everything the connection sends until the door closes it.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_request_in_progress_at_the_stop_is_answered_before_the_door_closes() {
    let (address, stop, served) = door(Duration::from_millis(300)).await;
    let mut client = TcpStream::connect(&address).await.unwrap();
    client.write_all(GET).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !served.is_finished(),
        "the door waits for the request it is answering"
    );
    let answer = read_to_close(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "answered: {answer:?}");
    assert!(answer.ends_with("done"), "the whole answer: {answer:?}");
    tokio::time::timeout(Duration::from_secs(2), served)
        .await
        .expect("the door is closed once its request is answered")
        .unwrap();
    assert!(
        TcpStream::connect(&address).await.is_err(),
        "nothing listens after the stop"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_does_not_hold_the_stop() {
    let (address, stop, served) = door(Duration::ZERO).await;
    let mut client = TcpStream::connect(&address).await.unwrap();
    client.write_all(GET).await.unwrap();
    let mut first = [0u8; 12];
    client.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // The connection stays open, idle, kept alive; the stop closes it at once.
    let took = stop_within(&stop, served, Duration::from_secs(2)).await;
    assert!(
        took < Duration::from_secs(1),
        "an idle connection is not waited for: {took:?}"
    );
    let rest = read_to_close(&mut client).await;
    assert!(
        rest.ends_with("done"),
        "the rest of the first answer, then the close: {rest:?}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_the_stop_no_longer_than_the_header_timeout() {
    // An answer far larger than the sockets' buffers, to a client that never reads it:
    // hyper's write waits for ever; the stop cuts it off after the header timeout.
    let big = Bytes::from(vec![b'x'; 16 * 1024 * 1024]);
    let (address, stop, served) =
        door_answering(Duration::ZERO, big, Duration::from_millis(300)).await;
    let mut client = TcpStream::connect(&address).await.unwrap();
    client.write_all(GET).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = stop_within(&stop, served, Duration::from_secs(3)).await;
    assert!(
        took >= Duration::from_millis(250),
        "the answer had its time: {took:?}"
    );
    drop(client);
}
