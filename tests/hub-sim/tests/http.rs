//! The HTTP layer: persistent connections, chunked bodies, `Expect: 100-continue`, HEAD and
//! unknown paths, seen from a raw TCP socket.

mod common;

use common::{call_xml, client, parse_reply, start};
use dxr::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Reads one reply: the head lines and the body of its `Content-Length`.
async fn read_reply(reader: &mut BufReader<TcpStream>) -> (Vec<String>, String) {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length: usize = head
        .iter()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map(|value| value.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0_u8; length];
    reader.read_exact(&mut body).await.unwrap();
    (head, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn keep_alive_chunked_and_continue() {
    let sim = start("captured").await;
    let mut reader = BufReader::new(TcpStream::connect(sim.addr()).await.unwrap());
    let body = call_xml("getAPIVersion", &[]);

    let plain = format!(
        "POST /kojihub HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    reader.get_mut().write_all(plain.as_bytes()).await.unwrap();
    let (head, reply) = read_reply(&mut reader).await;
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    assert_eq!(parse_reply(&reply), Ok(Value::Integer(1)));

    // The same connection, a chunked body split in two.
    let (first, second) = body.split_at(20);
    let chunked = format!(
        "POST /kojihub HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    reader
        .get_mut()
        .write_all(chunked.as_bytes())
        .await
        .unwrap();
    let (head, reply) = read_reply(&mut reader).await;
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    assert_eq!(parse_reply(&reply), Ok(Value::Integer(1)));

    // Expect: 100-continue gets the interim reply before the body is sent.
    let expect = format!(
        "POST /kojihub HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    reader.get_mut().write_all(expect.as_bytes()).await.unwrap();
    let (head, _) = read_reply(&mut reader).await;
    assert_eq!(head[0], "HTTP/1.1 100 Continue");
    reader.get_mut().write_all(body.as_bytes()).await.unwrap();
    let (head, reply) = read_reply(&mut reader).await;
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    assert!(
        head.contains(&"Koji-Version: 1.35.3".to_owned()),
        "{head:?}"
    );
    assert_eq!(parse_reply(&reply), Ok(Value::Integer(1)));
}

#[tokio::test]
async fn head_unknown_path_and_login_page() {
    let sim = start("captured").await;

    let head = client().head(sim.url()).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 405);
    assert_eq!(head.headers().get("Allow").unwrap(), "POST");

    let missing = client()
        .get(format!("{}/nosuch", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert!(missing.headers().get("Koji-Version").is_none());
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("The requested URL /nosuch was not found")
    );

    let ready = client()
        .get(format!("{}/control/ready", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    // The hub's own paths below /kojihub, such as ssllogin, reach the same handler.
    let below = client()
        .post(format!("{}/ssllogin", sim.url()))
        .body(call_xml("getAPIVersion", &[]))
        .send()
        .await;
    assert_eq!(
        parse_reply(&below.unwrap().text().await.unwrap()),
        Ok(Value::Integer(1))
    );
}

#[tokio::test]
async fn non_call_xml_is_fault_one() {
    let sim = start("captured").await;
    let (status, _, body) = common::post_raw(&sim, "<?xml version='1.0'?><notACall/>").await;
    assert_eq!(status, 200);
    assert_eq!(
        parse_reply(&body),
        Err((
            1,
            "<class 'xmlrpc.client.ResponseError'>: ResponseError()".to_owned()
        ))
    );
}
