//! An SMSC inside the test process: it listens on 127.0.0.1, accepts binds
//! with the given credentials, records submits and answers them, and can be
//! told to misbehave (throttle, refuse, unbind, hang up) or to deliver texts
//! and receipts. For the app's tests and ours; it is not a conformance tool.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::coding::{Concat, decode_part, encode_text};
use super::pdu::{Body, Pdu, Sm, SmAddr, Tlv, cmd, esm, frame_len, status, tlv};
use super::receipt::{ReceiptState, format_text};
use super::{SmppConfig, SmppPassword};

/// One submit_sm the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubmit {
    pub to: String,
    pub from: String,
    pub data_coding: u8,
    pub esm_class: u8,
    pub registered_delivery: u8,
    /// The raw UDH (length octet included) when esm_class has UDHI.
    pub udh: Option<Vec<u8>>,
    pub concat: Option<Concat>,
    /// This part's text alone.
    pub text: String,
    pub message_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptForm {
    /// receipted_message_id and message_state TLVs, no text.
    Tlv,
    /// Only the "id:… stat:… err:…" text.
    Text,
}

enum Control {
    Send(Box<Pdu>),
    Raw(Vec<u8>),
    Unbind,
    Disconnect,
}

#[derive(Default)]
struct State {
    gsm7_packed: bool,
    submits: Vec<FakeSubmit>,
    throttle_next: usize,
    fail_next: Option<u32>,
    binds: usize,
    refused_binds: usize,
    enquire_links: usize,
    ignore_enquire_links: bool,
    response_delay: Option<Duration>,
    in_flight: usize,
    max_in_flight: usize,
    deliver_sm_resps: usize,
    next_message_id: u64,
    next_sequence: u32,
    next_reference: u8,
    /// The bound connection that injected PDUs go to (the newest).
    bound: Option<(u64, mpsc::UnboundedSender<Control>)>,
    next_conn: u64,
}

struct Inner {
    system_id: String,
    password: String,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeSmsc {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSmsc {
    fn drop(&mut self) {
        self.accept.abort();
        if let Some((_, tx)) = self.inner.lock().bound.take() {
            let _ = tx.send(Control::Disconnect);
        }
    }
}

impl FakeSmsc {
    pub async fn start(system_id: &str, password: &str) -> std::io::Result<FakeSmsc> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            system_id: system_id.to_owned(),
            password: password.to_owned(),
            state: Mutex::new(State { next_message_id: 0x1000, next_sequence: 1, ..State::default() }),
        });
        let accept_inner = inner.clone();
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(connection(accept_inner.clone(), socket));
            }
        });
        Ok(FakeSmsc { addr, inner, accept })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A client config for this fake with quick timings for tests.
    pub fn config(&self) -> SmppConfig {
        let mut cfg = SmppConfig::new(
            "127.0.0.1",
            self.port(),
            self.inner.system_id.clone(),
            SmppPassword::new(&self.inner.password),
        );
        cfg.gsm7_packed = self.inner.lock().gsm7_packed;
        cfg.response_timeout = Duration::from_secs(2);
        cfg.reconnect_min = Duration::from_millis(20);
        cfg.reconnect_max = Duration::from_millis(200);
        cfg.throttle_backoff = Duration::from_millis(50);
        cfg.max_per_second = 1000.0;
        cfg
    }

    /// Whether data_coding 0 travels packed (both directions).
    pub fn set_gsm7_packed(&self, packed: bool) {
        self.inner.lock().gsm7_packed = packed;
    }

    pub fn submits(&self) -> Vec<FakeSubmit> {
        self.inner.lock().submits.clone()
    }
    pub fn binds(&self) -> usize {
        self.inner.lock().binds
    }
    pub fn refused_binds(&self) -> usize {
        self.inner.lock().refused_binds
    }
    pub fn enquire_links(&self) -> usize {
        self.inner.lock().enquire_links
    }
    pub fn deliver_sm_resps(&self) -> usize {
        self.inner.lock().deliver_sm_resps
    }

    /// Answers the next `n` submits with ESME_RTHROTTLED.
    pub fn throttle_next(&self, n: usize) {
        self.inner.lock().throttle_next = n;
    }

    /// Answers the next submit with this command_status.
    pub fn fail_next_with(&self, code: u32) {
        self.inner.lock().fail_next = Some(code);
    }

    /// The SMSC unbinds the current session (as before maintenance).
    pub fn unbind(&self) -> bool {
        self.control(Control::Unbind).is_ok()
    }

    /// Stops answering enquire_link (a half-dead connection), or resumes.
    pub fn ignore_enquire_links(&self, ignore: bool) {
        self.inner.lock().ignore_enquire_links = ignore;
    }

    /// Holds every submit_sm_resp back this long (to see the client's window).
    pub fn delay_responses(&self, delay: Option<Duration>) {
        self.inner.lock().response_delay = delay;
    }

    /// The most submits that were awaiting their response at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.lock().max_in_flight
    }

    /// Writes these bytes as they are: for malformed PDUs.
    pub fn send_raw(&self, bytes: &[u8]) -> bool {
        self.control(Control::Raw(bytes.to_vec())).is_ok()
    }

    /// The TCP connection drops without a word.
    pub fn disconnect(&self) -> bool {
        self.control(Control::Disconnect).is_ok()
    }

    /// Delivers a mobile-originated text, split with a UDH when long.
    pub fn send_mo(&self, from: &str, to: &str, text: &str) -> Result<(), String> {
        let (packed, reference) = {
            let mut s = self.inner.lock();
            s.next_reference = s.next_reference.wrapping_add(1);
            (s.gsm7_packed, s.next_reference)
        };
        let encoded = encode_text(text, packed, reference)?;
        for part in encoded.parts {
            let sm = Sm {
                source: SmAddr { ton: 1, npi: 1, addr: from.trim_start_matches('+').to_owned() },
                dest: SmAddr { ton: 1, npi: 1, addr: to.trim_start_matches('+').to_owned() },
                esm_class: encoded.esm_class,
                data_coding: encoded.data_coding,
                short_message: part,
                ..Sm::default()
            };
            self.deliver(sm)?;
        }
        Ok(())
    }

    /// Delivers a receipt for a message id the fake handed out.
    pub fn send_receipt(
        &self,
        message_id: &str,
        state: ReceiptState,
        err: &str,
        form: ReceiptForm,
    ) -> Result<(), String> {
        let mut sm = Sm { esm_class: esm::DELIVERY_RECEIPT, ..Sm::default() };
        match form {
            ReceiptForm::Tlv => {
                let mut id = message_id.as_bytes().to_vec();
                id.push(0);
                sm.tlvs = vec![
                    Tlv { tag: tlv::RECEIPTED_MESSAGE_ID, value: id },
                    Tlv { tag: tlv::MESSAGE_STATE, value: vec![tlv_state(state)] },
                ];
            }
            ReceiptForm::Text => {
                let packed = self.inner.lock().gsm7_packed;
                let encoded = encode_text(&format_text(message_id, state, err), packed, 0)?;
                sm.short_message = encoded.parts.into_iter().next().unwrap_or_default();
            }
        }
        self.deliver(sm)
    }

    /// Sends any deliver_sm as it is.
    pub fn deliver(&self, sm: Sm) -> Result<(), String> {
        let sequence = {
            let mut s = self.inner.lock();
            s.next_sequence += 1;
            s.next_sequence
        };
        self.control(Control::Send(Box::new(Pdu::new(cmd::DELIVER_SM, sequence, Body::DeliverSm(Box::new(sm))))))
    }

    fn control(&self, c: Control) -> Result<(), String> {
        let s = self.inner.lock();
        let (_, tx) = s.bound.as_ref().ok_or("no session is bound")?;
        tx.send(c).map_err(|_| "the session is gone".to_owned())
    }

    /// Polls until `f` holds or `wait` passes; true when it held.
    pub async fn wait_until(&self, wait: Duration, f: impl Fn(&FakeSmsc) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if f(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(Duration::from_millis(5)).await;
        }
    }
}

fn tlv_state(state: ReceiptState) -> u8 {
    match state {
        ReceiptState::Enroute => 1,
        ReceiptState::Delivered => 2,
        ReceiptState::Expired => 3,
        ReceiptState::Deleted => 4,
        ReceiptState::Undeliverable => 5,
        ReceiptState::Accepted => 6,
        ReceiptState::Unknown => 7,
        ReceiptState::Rejected => 8,
    }
}

async fn read_pdu<R: AsyncRead + Unpin>(r: &mut R) -> Option<Pdu> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await.ok()?;
    let len = frame_len(&head).ok()?;
    let mut frame = vec![0u8; len];
    frame[..4].copy_from_slice(&head);
    r.read_exact(&mut frame[4..]).await.ok()?;
    Pdu::decode(&frame).ok()
}

async fn connection(inner: Arc<Inner>, socket: TcpStream) {
    let (mut rd, mut wr) = socket.into_split();
    let (frames_tx, mut frames) = mpsc::channel(64);
    let reader = tokio::spawn(async move {
        while let Some(p) = read_pdu(&mut rd).await {
            if frames_tx.send(p).await.is_err() {
                break;
            }
        }
    });
    let (control_tx, mut control) = mpsc::unbounded_channel();
    let conn_id = {
        let mut s = inner.lock();
        s.next_conn += 1;
        s.next_conn
    };
    let mut bound = false;
    loop {
        let reply = tokio::select! {
            frame = frames.recv() => match frame {
                None => break,
                Some(pdu) => answer(&inner, pdu, &mut bound, conn_id, &control_tx),
            },
            c = control.recv() => match c {
                None | Some(Control::Disconnect) => break,
                Some(Control::Send(pdu)) => Some(*pdu),
                Some(Control::Raw(bytes)) => {
                    if wr.write_all(&bytes).await.is_err() {
                        break;
                    }
                    None
                }
                Some(Control::Unbind) => {
                    let seq = { let mut s = inner.lock(); s.next_sequence += 1; s.next_sequence };
                    let _ = wr.write_all(&Pdu::new(cmd::UNBIND, seq, Body::Empty).encode()).await;
                    // Give the client a moment to answer, then hang up as an SMSC would.
                    let _ = tokio::time::timeout(Duration::from_millis(500), frames.recv()).await;
                    break;
                }
            },
        };
        if let Some(pdu) = reply
            && wr.write_all(&pdu.encode()).await.is_err()
        {
            break;
        }
    }
    reader.abort();
    let _ = wr.shutdown().await;
    let mut s = inner.lock();
    if s.bound.as_ref().is_some_and(|(id, _)| *id == conn_id) {
        s.bound = None;
    }
}

fn answer(
    inner: &Arc<Inner>,
    pdu: Pdu,
    bound: &mut bool,
    conn_id: u64,
    control: &mpsc::UnboundedSender<Control>,
) -> Option<Pdu> {
    let mut s = inner.lock();
    match (&pdu.body, pdu.command_id) {
        (Body::Bind(b), _) => {
            let ok = b.system_id == inner.system_id && b.password == inner.password;
            let mut resp = Pdu::new(
                pdu.command_id | cmd::RESPONSE_BIT,
                pdu.sequence,
                Body::BindResp { system_id: "FAKESMSC".into() },
            );
            if ok {
                s.binds += 1;
                s.bound = Some((conn_id, control.clone()));
                *bound = true;
            } else {
                s.refused_binds += 1;
                resp.status =
                    if b.system_id == inner.system_id { status::INVALID_PASSWORD } else { status::INVALID_SYSTEM_ID };
                resp.body = Body::Empty;
            }
            Some(resp)
        }
        (_, cmd::ENQUIRE_LINK) => {
            s.enquire_links += 1;
            (!s.ignore_enquire_links).then(|| pdu.empty_response(status::OK))
        }
        (_, cmd::UNBIND) => {
            *bound = false;
            Some(pdu.empty_response(status::OK))
        }
        (_, cmd::DELIVER_SM_RESP) => {
            s.deliver_sm_resps += 1;
            None
        }
        (Body::SubmitSm(sm), _) => {
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            let resp = submit_response(&mut s, &pdu, sm, *bound);
            match s.response_delay {
                None => {
                    s.in_flight -= 1;
                    Some(resp)
                }
                Some(delay) => {
                    let control = control.clone();
                    let inner = inner.clone();
                    tokio::spawn(async move {
                        sleep(delay).await;
                        inner.lock().in_flight -= 1;
                        let _ = control.send(Control::Send(Box::new(resp)));
                    });
                    None
                }
            }
        }
        _ if pdu.is_response() => None,
        _ => Some(pdu.empty_response(status::INVALID_COMMAND_ID)),
    }
}

fn submit_response(s: &mut State, pdu: &Pdu, sm: &Sm, bound: bool) -> Pdu {
    if !bound {
        return pdu.empty_response(status::INVALID_BIND_STATUS);
    }
    if s.throttle_next > 0 {
        s.throttle_next -= 1;
        return pdu.empty_response(status::THROTTLED);
    }
    if let Some(code) = s.fail_next.take() {
        return pdu.empty_response(code);
    }
    s.next_message_id += 1;
    let message_id = format!("{:X}", s.next_message_id);
    let part = decode_part(sm, s.gsm7_packed);
    let udh = (sm.esm_class & esm::UDHI != 0)
        .then(|| sm.short_message.first().and_then(|&l| sm.short_message.get(..usize::from(l) + 1)))
        .flatten()
        .map(<[u8]>::to_vec);
    s.submits.push(FakeSubmit {
        to: sm.dest.addr.clone(),
        from: sm.source.addr.clone(),
        data_coding: sm.data_coding,
        esm_class: sm.esm_class,
        registered_delivery: sm.registered_delivery,
        udh,
        concat: part.as_ref().ok().and_then(|p| p.concat),
        text: part.map(|p| p.kind.decode(&p.units)).unwrap_or_default(),
        message_id: message_id.clone(),
    });
    Pdu::new(cmd::SUBMIT_SM_RESP, pdu.sequence, Body::SubmitSmResp { message_id })
}
