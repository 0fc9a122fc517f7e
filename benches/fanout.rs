//! Fan-out benchmark: N idle websocket subscribers on one server process, then a burst of
//! mutations, each emitting one event every subscriber receives. Prints commit-to-delivery
//! latency (p50/p99/max) and the server's RSS; asserts nothing.
//!
//! Normally run by `scripts/bench-fanout`, which starts a server and passes everything below.
//! Without FANOUT_ADDR and FANOUT_TOKEN it prints a note and exits 0 (so `cargo bench` and
//! `cargo test --all-targets` stay harmless).
//!
//! Settings (environment; `--name value` or `--name=value` arguments win, e.g. `--burst 500`):
//!
//! | variable | argument | |
//! |---|---|---|
//! | FANOUT_ADDR | --addr | server `host:port` |
//! | FANOUT_TOKEN | --token | a superuser's API token |
//! | FANOUT_SUBSCRIBERS | --subscribers | comma-separated subscriber counts, default `1000,10000` |
//! | FANOUT_BURST | --burst | mutations per run, default 200 |
//! | FANOUT_RATE | --rate | mutations per second, default 50; 0 = back to back |
//! | FANOUT_SERVER_PID | --server-pid | server process, for its RSS (`/proc/<pid>/status`) |
//! | FANOUT_CONNECT_CONCURRENCY | --connect-concurrency | handshakes in flight, default 200 |
//! | FANOUT_DRAIN_SECS | --drain-secs | give up waiting for deliveries after this many seconds without progress, default 15 |
//! | FANOUT_LABEL | --label | printed in the heading (e.g. which event bus) |
//!
//! Measurement. The mutations (`closeEngagement` / `reopenEngagement` on one engagement, one
//! `ENGAGEMENT_STATUS_CHANGED` event each) are sent one at a time from a thread of their own
//! with blocking sockets, so their timestamps do not wait for the runtime busy with the
//! subscribers. Events are numbered in commit order, so the k-th distinct event id after the
//! warm-up belongs to the k-th mutation. Every subscriber records the arrival time of each
//! event. The commit time of mutation k is bounded from above by its HTTP response and by the
//! first delivery of its event to any subscriber; the earlier of the two is taken (a server
//! busy fanning out may answer the HTTP request well after the event has gone out: 200 ms at
//! 10k subscribers). Latency = arrival − that commit time, over all (subscriber, event) pairs;
//! it slightly underestimates, and "from sending the mutation" (also printed) overestimates.
//! Arrival times are taken when the subscriber's task reads the frame, so they include the
//! client's own scheduling delay (the client shares the machine's cores with the server).

use std::{
    collections::HashMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream as StdTcpStream, ToSocketAddrs},
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::{
    Message,
    client::IntoClientRequest,
    http::HeaderValue,
    protocol::{CloseFrame, WebSocketConfig},
};

const SUBSCRIPTION: &str = "subscription { engagementStatusChanged { eventId newStatus } }";
const CLOSE: &str =
    "mutation($e: ID!) { closeEngagement(input: {id: $e}) { engagement { status } } }";
const REOPEN: &str =
    "mutation($e: ID!) { reopenEngagement(input: {id: $e}) { engagement { status } } }";

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Settings {
    addr: SocketAddr,
    token: String,
    subscribers: Vec<usize>,
    burst: usize,
    rate: f64,
    server_pid: Option<u32>,
    connect_concurrency: usize,
    drain: Duration,
    label: String,
}

impl Settings {
    /// `None` when the benchmark is not configured (no address or token).
    fn load() -> Result<Option<Settings>, Error> {
        let mut values: HashMap<String, String> = HashMap::new();
        for (k, v) in std::env::vars() {
            if let Some(name) = k.strip_prefix("FANOUT_") {
                values.insert(name.to_ascii_lowercase().replace('_', "-"), v);
            }
        }
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            // `cargo bench` passes `--bench`; anything else unknown is an error below.
            if arg == "--bench" {
                continue;
            }
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}").into());
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (
                    name.to_string(),
                    args.next().ok_or(format!("--{name} needs a value"))?,
                ),
            };
            values.insert(name, value);
        }
        let get = |name: &str| values.get(name).filter(|v| !v.trim().is_empty());
        let (Some(addr), Some(token)) = (get("addr"), get("token")) else {
            return Ok(None);
        };
        let num = |name: &str, default: f64| -> Result<f64, Error> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|e| format!("{name}: cannot parse {v:?}: {e}").into()),
            }
        };
        let subscribers = get("subscribers")
            .map_or("1000,10000", |s| s.as_str())
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("subscribers: {e}"))?;
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or(format!("addr: {addr:?} resolves to nothing"))?;
        Ok(Some(Settings {
            addr,
            token: token.clone(),
            subscribers,
            burst: num("burst", 200.0)? as usize,
            rate: num("rate", 50.0)?,
            server_pid: get("server-pid").map(|p| p.trim().parse()).transpose()?,
            connect_concurrency: (num("connect-concurrency", 200.0)? as usize).max(1),
            drain: Duration::from_secs_f64(num("drain-secs", 15.0)?),
            label: get("label").cloned().unwrap_or_default(),
        }))
    }
}

fn main() {
    let settings = match Settings::load() {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "fanout: FANOUT_ADDR and FANOUT_TOKEN are not set, nothing to do \
                 (scripts/bench-fanout starts a server and runs this benchmark)"
            );
            return;
        }
        Err(e) => {
            eprintln!("fanout: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run_all(settings) {
        eprintln!("fanout: {e}");
        std::process::exit(1);
    }
}

fn run_all(s: Settings) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let http = Http {
        addr: s.addr,
        authorization: format!("Token {}", s.token),
    };
    let engagement = create_engagement(&http)?;
    let mut mutator = Mutator {
        http,
        engagement,
        closed: false,
        start,
    };
    let pacing = if s.rate > 0.0 {
        format!(
            "one at a time, paced at {} mutations/s (open loop: a slow response delays only its \
             successor)",
            s.rate
        )
    } else {
        "one at a time, back to back (each sent when the previous response arrives)".to_string()
    };
    println!(
        "fan-out benchmark{}: subscription `engagementStatusChanged {{ eventId newStatus }}`, \
         {} closeEngagement/reopenEngagement mutations per run, {pacing}",
        if s.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.label)
        },
        s.burst,
    );
    println!(
        "latency = subscriber's arrival time - the commit (the mutation's HTTP response, or the \
         event's first delivery to anyone if earlier); {} cores shared by client, server and \
         database",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for &n in &s.subscribers {
        println!();
        mutator = runtime.block_on(run(&s, n, mutator, start))?;
        // Let the server finish closing the previous run's sockets.
        std::thread::sleep(Duration::from_secs(2));
        if let Some(pid) = s.server_pid {
            println!(
                "  server 2 s after closing: RSS {}, {} open file descriptors",
                Rss::read(pid),
                open_fds(pid)
            );
        }
    }
    Ok(())
}

/// Counters every subscriber updates.
struct Shared {
    start: Instant,
    /// Sockets acknowledged and subscribed.
    subscribed: AtomicUsize,
    /// Sockets that failed to open, or ended before they were told to.
    failed: AtomicUsize,
    /// Sockets that have received at least one event.
    warm: AtomicUsize,
    /// Events received by all sockets.
    events: AtomicUsize,
    /// The highest event id seen.
    max_seq: AtomicI64,
}

/// What one subscriber saw.
#[derive(Default)]
struct Received {
    /// (event id, arrival in µs since the start), in arrival order.
    events: Vec<(i64, i64)>,
    lagged: usize,
    /// Other messages (errors, `complete`), first one kept.
    other: usize,
    first_other: Option<String>,
    /// How the socket ended before the end of the run, if it did.
    ended_early: Option<String>,
}

async fn run(
    s: &Settings,
    n: usize,
    mut mutator: Mutator,
    start: Instant,
) -> Result<Mutator, Error> {
    println!(
        "== {n} subscribers{}",
        if s.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.label)
        }
    );
    let rss_before = s.server_pid.map(Rss::read);
    let shared = Arc::new(Shared {
        start,
        subscribed: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        warm: AtomicUsize::new(0),
        events: AtomicUsize::new(0),
        max_seq: AtomicI64::new(-1),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let handshakes = Arc::new(Semaphore::new(s.connect_concurrency));
    let init = Arc::new(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Token {}", s.token)}})
            .to_string(),
    );
    let url = format!("ws://{}/graphql/ws", s.addr);

    // Open, acknowledge and subscribe every socket.
    let opening = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(tokio::spawn(subscriber(
            url.clone(),
            init.clone(),
            shared.clone(),
            handshakes.clone(),
            stop_rx.clone(),
            s.burst + 16,
        )));
    }
    let mut last_progress = (0, Instant::now());
    let mut last_report = Instant::now();
    loop {
        let done = shared.subscribed.load(Ordering::SeqCst);
        let failed = shared.failed.load(Ordering::SeqCst);
        if done + failed >= n {
            break;
        }
        if done != last_progress.0 {
            last_progress = (done, Instant::now());
        } else if last_progress.1.elapsed() > Duration::from_secs(30) {
            eprintln!("[fanout] no socket opened for 30 s; going on with {done}");
            break;
        }
        if last_report.elapsed() > Duration::from_secs(3) {
            eprintln!("[fanout] {done}/{n} subscribed, {failed} failed");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_secs = opening.elapsed().as_secs_f64();
    let live = shared.subscribed.load(Ordering::SeqCst);
    let failed_open = shared.failed.load(Ordering::SeqCst);
    println!(
        "  sockets: {live}/{n} connected, acknowledged and subscribed in {open_secs:.2} s \
         ({:.0}/s, {} handshakes at a time){}",
        live as f64 / open_secs,
        s.connect_concurrency,
        if failed_open > 0 {
            format!(", {failed_open} FAILED")
        } else {
            String::new()
        }
    );

    // Warm up: until every socket has received an event (a subscription is only live once the
    // server has attached it to the broadcast; the protocol does not acknowledge it).
    let warming = Instant::now();
    let mut warmups = 0;
    while shared.warm.load(Ordering::SeqCst) < live && warmups < 10 {
        mutator = tokio::task::spawn_blocking(move || {
            let r = mutator.toggle();
            r.map(|_| mutator)
        })
        .await??;
        warmups += 1;
        let waiting = Instant::now();
        while shared.warm.load(Ordering::SeqCst) < live
            && waiting.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let warm = shared.warm.load(Ordering::SeqCst);
    // Deliveries of the last warm-up may still trickle in: wait for them to settle.
    let mut seen = shared.events.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = shared.events.load(Ordering::SeqCst);
        if now == seen {
            break;
        }
        seen = now;
    }
    let warm_seq = shared.max_seq.load(Ordering::SeqCst);
    println!(
        "  warm-up: {warm}/{live} sockets received an event after {warmups} mutation(s), {:.2} s",
        warming.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = s.server_pid.map(Rss::read);
    let fds_idle = s.server_pid.map(open_fds);

    // The burst, from a thread of its own.
    let events_before = shared.events.load(Ordering::SeqCst);
    let cpu_before = (s.server_pid.map(cpu_secs), cpu_secs(std::process::id()));
    let machine_before = machine_ticks();
    let burst_began = Instant::now();
    let live_now = live
        - shared
            .failed
            .load(Ordering::SeqCst)
            .saturating_sub(failed_open);
    let expected_total = live_now * s.burst;
    let (burst, rate) = (s.burst, s.rate);
    let driver = std::thread::spawn(move || {
        let r = mutator.burst(burst, rate);
        (mutator, r)
    });
    // Wait for the deliveries (the driver runs meanwhile).
    let mut last_progress = (events_before, Instant::now());
    let mut driver_done = false;
    loop {
        let got = shared.events.load(Ordering::SeqCst) - events_before;
        if driver_done && got >= expected_total {
            break;
        }
        if got != last_progress.0 {
            last_progress = (got, Instant::now());
        } else if driver_done && last_progress.1.elapsed() > s.drain {
            eprintln!(
                "[fanout] no delivery for {:.0} s, {got}/{expected_total} delivered; giving up",
                s.drain.as_secs_f64()
            );
            break;
        }
        driver_done = driver_done || driver.is_finished();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained_at = start.elapsed();
    let burst_secs = burst_began.elapsed().as_secs_f64();
    let cpu_after = (s.server_pid.map(cpu_secs), cpu_secs(std::process::id()));
    let machine_after = machine_ticks();
    let (m, sent) = driver.join().map_err(|_| "the mutation thread panicked")?;
    mutator = m;
    let sent = sent?;
    let rss_after = s.server_pid.map(Rss::read);

    // Close every socket and collect what each saw.
    let _ = stop_tx.send(true);
    let mut received = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok(Some(r)) => received.push(r),
            Ok(None) => {}
            Err(e) => eprintln!("[fanout] a subscriber task failed: {e}"),
        }
    }

    report(
        &Report {
            subscribers: received.len(),
            warm_seq,
            sent: &sent,
            drained_at,
            rate,
        },
        &received,
    );
    if let (Some(before), Some(idle), Some(after)) = (rss_before, rss_idle, rss_after) {
        println!(
            "  server RSS: {before} before connecting; {idle} idle with {live} subscribers \
             (+{:.1} KiB per subscriber, {} open file descriptors); {after} after the burst",
            (idle.rss_kib as f64 - before.rss_kib as f64) / live.max(1) as f64,
            fds_idle.unwrap_or(0),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let share = |cpu: f64| {
        format!(
            "{cpu:.2} s = {:.0}% of {cores} cores",
            100.0 * cpu / burst_secs / cores
        )
    };
    let delivered = (shared.events.load(Ordering::SeqCst) - events_before).max(1);
    println!(
        "  CPU during the burst and its deliveries ({burst_secs:.2} s): server {}, this client {}; \
         whole machine {:.0}% busy",
        match cpu_before.0.zip(cpu_after.0) {
            Some((b, a)) => {
                let (user, system) = (a.0 - b.0, a.1 - b.1);
                format!(
                    "{} (user {user:.2} s, system {system:.2} s; {:.1} µs per delivered event)",
                    share(user + system),
                    (user + system) * 1e6 / delivered as f64
                )
            }
            None => "?".to_string(),
        },
        share(cpu_after.1.0 + cpu_after.1.1 - cpu_before.1.0 - cpu_before.1.1),
        100.0 * (machine_after.0 - machine_before.0) as f64
            / (machine_after.1 - machine_before.1).max(1) as f64,
    );
    println!("  client RSS: {}", Rss::read(std::process::id()));
    Ok(mutator)
}

/// One websocket: connect, `connection_init`, wait for the ack, subscribe, then record every
/// event until told to stop. `None` when it never got subscribed.
async fn subscriber(
    url: String,
    init: Arc<String>,
    shared: Arc<Shared>,
    handshakes: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    capacity: usize,
) -> Option<Received> {
    let permit = handshakes.acquire_owned().await.ok()?;
    let opened = async {
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        // The events are small: a 4 KiB read buffer instead of tungstenite's 128 KiB (which it
        // zero-fills on the first read) keeps the client's memory and cache footprint small.
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        ws.send(Message::text(init.as_str())).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains("connection_ack") => break,
                Some(Ok(Message::Text(t))) => {
                    return Err(format!("before the ack: {}", t.as_str()).into());
                }
                Some(Ok(Message::Close(f))) => {
                    return Err(format!("closed before the ack: {f:?}").into());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err("closed before the ack".into()),
            }
        }
        let subscribe = json!({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION}});
        ws.send(Message::text(subscribe.to_string())).await?;
        Ok::<_, Error>(ws)
    }
    .await;
    drop(permit);
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            if shared.failed.fetch_add(1, Ordering::SeqCst) < 3 {
                eprintln!("[fanout] a socket failed to open: {e}");
            }
            return None;
        }
    };
    shared.subscribed.fetch_add(1, Ordering::SeqCst);

    let mut r = Received {
        events: Vec::with_capacity(capacity),
        ..Received::default()
    };
    loop {
        let message = tokio::select! {
            biased;
            _ = stop.changed() => break,
            m = ws.next() => m,
        };
        match message {
            Some(Ok(Message::Text(t))) => {
                let at = shared.start.elapsed().as_micros() as i64;
                let text = t.as_str();
                if let Some(seq) = event_seq(text) {
                    if r.events.is_empty() {
                        shared.warm.fetch_add(1, Ordering::SeqCst);
                    }
                    r.events.push((seq, at));
                    shared.events.fetch_add(1, Ordering::SeqCst);
                    shared.max_seq.fetch_max(seq, Ordering::SeqCst);
                } else if text.contains("LAGGED") {
                    r.lagged += 1;
                    r.first_other.get_or_insert_with(|| text.to_string());
                } else {
                    r.other += 1;
                    r.first_other.get_or_insert_with(|| text.to_string());
                }
            }
            Some(Ok(Message::Close(f))) => {
                r.ended_early = Some(format!("closed by the server: {f:?}"));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                r.ended_early = Some(format!("error: {e}"));
                break;
            }
            None => {
                r.ended_early = Some("connection lost".to_string());
                break;
            }
        }
    }
    if r.ended_early.is_some() {
        shared.failed.fetch_add(1, Ordering::SeqCst);
    } else {
        let _ = ws
            .close(Some(CloseFrame {
                code: 1000.into(),
                reason: "".into(),
            }))
            .await;
        // Wait briefly for the server's closing handshake, so it sees a clean close.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
    Some(r)
}

/// The event id of a `next` message carrying an event (`"eventId":"123"`), parsed without
/// building a JSON tree.
fn event_seq(text: &str) -> Option<i64> {
    const KEY: &str = "\"eventId\":\"";
    let at = text.find(KEY)? + KEY.len();
    let rest = &text[at..];
    let end = rest.find('"')?;
    rest[..end].parse().ok()
}

struct Report<'a> {
    subscribers: usize,
    warm_seq: i64,
    /// Per mutation: (sent, response received), µs since the start.
    sent: &'a [(i64, i64)],
    drained_at: Duration,
    rate: f64,
}

fn report(rep: &Report<'_>, received: &[Received]) {
    let burst = rep.sent.len();
    // The burst's events: ids above the warm-up's, in commit order = mutation order.
    let mut ids: Vec<i64> = received
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.0))
        .filter(|&id| id > rep.warm_seq)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // The burst's mutation of an event id (`None` for ids beyond the burst).
    let mutation = |id: i64| {
        ids.binary_search(&id)
            .ok()
            .filter(|&k| id > rep.warm_seq && k < burst)
    };

    // Pass 1: completeness, and the first arrival of each event on any socket.
    let mut first_arrival = vec![i64::MAX; burst];
    let (mut delivered, mut missing, mut duplicates, mut lagged, mut other, mut ended) =
        (0, 0, 0, 0, 0, 0);
    let mut first_other: Option<&str> = None;
    let mut first_ended: Option<&str> = None;
    let mut seen = vec![false; burst];
    for r in received {
        seen.iter_mut().for_each(|s| *s = false);
        for &(id, at) in &r.events {
            let Some(k) = mutation(id) else { continue };
            if seen[k] {
                duplicates += 1;
                continue;
            }
            seen[k] = true;
            delivered += 1;
            first_arrival[k] = first_arrival[k].min(at);
        }
        missing += seen.iter().filter(|s| !**s).count();
        lagged += r.lagged;
        other += r.other;
        if r.ended_early.is_some() {
            ended += 1;
        }
        first_other = first_other.or(r.first_other.as_deref());
        first_ended = first_ended.or(r.ended_early.as_deref());
    }
    // The commit time of mutation k: its HTTP response, or the event's first delivery if that
    // came earlier (both happen after the commit; the earlier is the tighter bound).
    let commit: Vec<i64> = (0..burst)
        .map(|k| rep.sent[k].1.min(first_arrival[k]))
        .collect();
    let overtaken: Vec<i64> = (0..burst)
        .filter(|&k| first_arrival[k] < rep.sent[k].1)
        .map(|k| rep.sent[k].1 - first_arrival[k])
        .collect();

    // Pass 2: latencies.
    let mut latencies: Vec<i64> = Vec::with_capacity(delivered);
    let mut from_send: Vec<i64> = Vec::with_capacity(delivered);
    let mut last = vec![i64::MIN; burst];
    for r in received {
        seen.iter_mut().for_each(|s| *s = false);
        for &(id, at) in &r.events {
            let Some(k) = mutation(id) else { continue };
            if std::mem::replace(&mut seen[k], true) {
                continue;
            }
            latencies.push(at - commit[k]);
            from_send.push(at - rep.sent[k].0);
            last[k] = last[k].max(at - commit[k]);
        }
    }

    let http: Vec<i64> = rep.sent.iter().map(|(s, r)| r - s).collect();
    let span = rep.sent.last().map_or(0, |l| l.1) - rep.sent.first().map_or(0, |f| f.0);
    println!(
        "  mutations: {burst} in {:.2} s ({:.1}/s achieved{}), HTTP round trip p50 {} p99 {} max {}",
        span as f64 / 1e6,
        burst as f64 / (span.max(1) as f64 / 1e6),
        if rep.rate > 0.0 {
            format!(", {} asked", rep.rate)
        } else {
            String::new()
        },
        ms(pct(&http, 50.0)),
        ms(pct(&http, 99.0)),
        ms(pct(&http, 100.0)),
    );
    let expected = rep.subscribers * burst;
    println!(
        "  delivered: {delivered}/{expected} (subscriber, event) pairs; missing {missing}, \
         duplicates {duplicates}, LAGGED errors {lagged}, other messages {other}, sockets ended \
         early {ended}; last delivery {:.2} s after the last response",
        (rep.drained_at.as_micros() as i64 - rep.sent.last().map_or(0, |l| l.1)) as f64 / 1e6,
    );
    if ids.len() != burst {
        println!(
            "  WARNING: {} distinct event ids after the warm-up for {burst} mutations: the \
             event-to-mutation mapping is unreliable",
            ids.len()
        );
    }
    if let Some(m) = first_other {
        println!("  first unexpected message: {}", truncate(m, 300));
    }
    if let Some(m) = first_ended {
        println!("  first early end: {}", truncate(m, 300));
    }
    if latencies.is_empty() {
        println!("  commit-to-delivery: nothing delivered");
        return;
    }
    latencies.sort_unstable();
    from_send.sort_unstable();
    println!(
        "  commit-to-delivery, all pairs: p50 {}  p90 {}  p99 {}  max {}",
        ms(pct_sorted(&latencies, 50.0)),
        ms(pct_sorted(&latencies, 90.0)),
        ms(pct_sorted(&latencies, 99.0)),
        ms(pct_sorted(&latencies, 100.0)),
    );
    println!(
        "    (upper bound, from sending the mutation: p50 {}  p99 {}  max {}); {} of {burst} \
         events reached a subscriber before their HTTP response did{}",
        ms(pct_sorted(&from_send, 50.0)),
        ms(pct_sorted(&from_send, 99.0)),
        ms(pct_sorted(&from_send, 100.0)),
        overtaken.len(),
        if overtaken.is_empty() {
            String::new()
        } else {
            format!(
                " (by up to {}: the commit time is then that first delivery)",
                ms(pct(&overtaken, 100.0))
            )
        },
    );
    let last: Vec<i64> = last.into_iter().filter(|v| *v != i64::MIN).collect();
    println!(
        "  per event, until the last subscriber had it: p50 {}  p99 {}  max {}",
        ms(pct(&last, 50.0)),
        ms(pct(&last, 99.0)),
        ms(pct(&last, 100.0)),
    );
}

/// The `p`-th percentile (nearest rank) of unsorted values.
fn pct(values: &[i64], p: f64) -> i64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    pct_sorted(&v, p)
}

fn pct_sorted(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(micros: i64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// User and system CPU time of a process so far, in seconds (`/proc/<pid>/stat`, USER_HZ = 100).
fn cpu_secs(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) as f64 / 100.0, ticks(12) as f64 / 100.0)
}

/// (busy, total) CPU ticks of the whole machine so far (`/proc/stat`; idle and iowait are not
/// busy).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// How many file descriptors a process has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A process's resident set now and at its peak, from `/proc/<pid>/status`.
#[derive(Clone, Copy)]
struct Rss {
    rss_kib: u64,
    peak_kib: u64,
}

impl Rss {
    fn read(pid: u32) -> Rss {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Rss {
            rss_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        }
    }
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} MB (peak so far {:.1} MB)",
            self.rss_kib as f64 / 1024.0,
            self.peak_kib as f64 / 1024.0
        )
    }
}

/// A minimal blocking HTTP/1.1 client for `POST /graphql` (one connection per request).
struct Http {
    addr: SocketAddr,
    authorization: String,
}

impl Http {
    /// The `data` of a GraphQL response; an error when it has `errors` or is not a 200.
    fn graphql(&self, query: &str, variables: Value) -> Result<Value, Error> {
        let body = json!({"query": query, "variables": variables}).to_string();
        let mut stream = StdTcpStream::connect(self.addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Authorization: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            self.authorization,
            body.len()
        );
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::with_capacity(1024);
        stream.read_to_end(&mut raw)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("malformed HTTP response")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let mut payload = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            payload = dechunk(&payload)?;
        }
        if !head.starts_with("http/1.1 200") {
            return Err(format!(
                "{}: {}",
                head.lines().next().unwrap_or_default(),
                String::from_utf8_lossy(&payload)
            )
            .into());
        }
        let mut v: Value = serde_json::from_slice(&payload)?;
        if let Some(errors) = v.get("errors") {
            return Err(format!("GraphQL errors: {errors}").into());
        }
        Ok(v["data"].take())
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    loop {
        let line = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("malformed chunk")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&body[..line])?
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )?;
        body = &body[line + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).ok_or("truncated chunk")?);
        body = body.get(size + 2..).ok_or("truncated chunk")?;
    }
}

/// A product type, a product and an engagement (IN_PROGRESS) to close and reopen.
fn create_engagement(http: &Http) -> Result<String, Error> {
    let pt = http.graphql(
        "mutation { createProductType(input: {name: \"fan-out bench\"}) { productType { id } } }",
        json!({}),
    )?;
    let pt = pt["createProductType"]["productType"]["id"].clone();
    let p = http.graphql(
        "mutation($pt: ID!) { createProduct(input: {name: \"fan-out bench\", description: \"d\", \
         productTypeId: $pt}) { product { id } } }",
        json!({"pt": pt}),
    )?;
    let p = p["createProduct"]["product"]["id"].clone();
    let e = http.graphql(
        "mutation($p: ID!) { createEngagement(input: {productId: $p, name: \"fan-out bench\", \
         targetStart: \"2026-01-01\", targetEnd: \"2026-02-01\", status: IN_PROGRESS}) \
         { engagement { id } } }",
        json!({"p": p}),
    )?;
    e["createEngagement"]["engagement"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("createEngagement answered {e}").into())
}

/// Closes and reopens the engagement, alternately.
struct Mutator {
    http: Http,
    engagement: String,
    closed: bool,
    start: Instant,
}

impl Mutator {
    fn toggle(&mut self) -> Result<(), Error> {
        let query = if self.closed { REOPEN } else { CLOSE };
        self.http
            .graphql(query, json!({"e": self.engagement}))
            .map_err(|e| {
                format!(
                    "{} failed: {e}",
                    if self.closed { "reopen" } else { "close" }
                )
            })?;
        self.closed = !self.closed;
        Ok(())
    }

    /// `count` mutations, one at a time, at `rate` per second (back to back when 0): mutation
    /// k is sent at start + k / rate, or when k − 1 answers if that is later. Returns (sent,
    /// answered) per mutation, µs since the start.
    fn burst(&mut self, count: usize, rate: f64) -> Result<Vec<(i64, i64)>, Error> {
        let mut out = Vec::with_capacity(count);
        let began = Instant::now();
        for k in 0..count {
            if rate > 0.0 {
                let due = began + Duration::from_secs_f64(k as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let sent = self.start.elapsed().as_micros() as i64;
            self.toggle()?;
            out.push((sent, self.start.elapsed().as_micros() as i64));
        }
        Ok(out)
    }
}
