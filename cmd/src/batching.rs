//! Turning lines of input into produce batches.
//!
//! Lines are read on a blocking thread and queued; the sender takes every
//! line already queued (up to a batch's limits) each time it sends. While a
//! request is in flight the next batch fills up, so piped input travels in
//! large batches, and a line typed alone is sent at once: nothing waits
//! for a batch to fill.

use std::io::BufRead;

use bytes::Bytes;
use tokio::sync::mpsc;

/// The most lines sent in one request.
pub const MAX_BATCH_LINES: usize = 1_000;
/// The most payload bytes sent in one request (one longer line aside), well
/// under the server's default request limit of 16 MiB.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Lines read ahead of the sender.
const QUEUE_LINES: usize = 4 * MAX_BATCH_LINES;

/// One line of input, without its line ending.
pub type Line = std::io::Result<Bytes>;

/// Reads `input` line by line on a blocking thread. Before each line, calls
/// `prompt` (a terminal shows one; a pipe does not). The channel closes at
/// the end of input; a read error is queued as the last item.
pub fn spawn_line_reader(
    mut input: impl BufRead + Send + 'static,
    prompt: impl Fn() + Send + 'static,
) -> mpsc::Receiver<Line> {
    let (lines, receiver) = mpsc::channel(QUEUE_LINES);
    std::thread::spawn(move || {
        loop {
            prompt();
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    trim_line_ending(&mut line);
                    if lines.blocking_send(Ok(Bytes::from(line))).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    let _ = lines.blocking_send(Err(error));
                    return;
                }
            }
        }
    });
    receiver
}

/// Waits for the next line, then takes every line already queued, within
/// the batch limits. `None` at the end of input.
pub async fn next_batch(lines: &mut mpsc::Receiver<Line>) -> Option<std::io::Result<Vec<Bytes>>> {
    let first = match lines.recv().await? {
        Ok(line) => line,
        Err(error) => return Some(Err(error)),
    };
    let mut bytes = first.len();
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH_LINES && bytes < MAX_BATCH_BYTES {
        match lines.try_recv() {
            Ok(Ok(line)) => {
                bytes += line.len();
                batch.push(line);
            }
            // A read error waits its turn: the lines before it go first.
            Ok(Err(error)) => return Some(Err(error)),
            Err(_) => break,
        }
    }
    Some(Ok(batch))
}

fn trim_line_ending(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    async fn batches(input: &'static [u8]) -> Vec<Vec<Bytes>> {
        let mut lines = spawn_line_reader(Cursor::new(input), || {});
        let mut out = Vec::new();
        while let Some(batch) = next_batch(&mut lines).await {
            out.push(batch.expect("no read error"));
        }
        out
    }

    #[tokio::test]
    async fn lines_lose_their_endings_and_keep_their_bytes() {
        let got = batches(b"one\r\ntwo\n\n\xff\x00bin\nlast-no-newline")
            .await
            .concat();
        let want: Vec<Bytes> = vec![
            "one".into(),
            "two".into(),
            "".into(),
            b"\xff\x00bin".as_slice().into(),
            "last-no-newline".into(),
        ];
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn queued_lines_travel_together_within_the_line_limit() {
        let input: &'static [u8] = "x\n".repeat(2_500).leak().as_bytes();
        let mut lines = spawn_line_reader(Cursor::new(input), || {});
        let mut sizes = Vec::new();
        while lines.len() < 2_500 {
            tokio::task::yield_now().await;
        }
        while let Some(batch) = next_batch(&mut lines).await {
            sizes.push(batch.expect("no read error").len());
        }
        assert_eq!(sizes, vec![1_000, 1_000, 500]);
    }

    #[tokio::test]
    async fn a_batch_closes_at_the_byte_limit() {
        let line = "y".repeat(400 * 1024) + "\n";
        let input: &'static [u8] = line.repeat(4).leak().as_bytes();
        let mut lines = spawn_line_reader(Cursor::new(input), || {});
        while lines.len() < 4 {
            tokio::task::yield_now().await;
        }
        let first = next_batch(&mut lines)
            .await
            .expect("batch")
            .expect("no read error");
        assert_eq!(
            first.len(),
            3,
            "the third line crosses 1 MiB and closes the batch"
        );
    }

    #[tokio::test]
    async fn a_lone_line_is_not_held_back() {
        let (sender, mut lines) = mpsc::channel(4);
        sender.send(Ok(Bytes::from("typed"))).await.expect("send");
        // The sender stays open, as a terminal would: the batch still closes.
        let batch = next_batch(&mut lines)
            .await
            .expect("batch")
            .expect("no read error");
        assert_eq!(batch, vec![Bytes::from("typed")]);
    }
}
