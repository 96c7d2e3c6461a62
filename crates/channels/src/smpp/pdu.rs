//! SMPP 3.4 PDUs: the 16-byte header, the bodies this client speaks, and TLVs.
//! Decoding never trusts the peer: every length is checked against what is
//! left, C-strings against the spec's maximum, and anything else is an error.

use std::fmt;

/// Larger frames are refused: the biggest legitimate PDU (a submit_sm with a
/// message_payload) stays far below this, and a bogus length must not make us
/// allocate gigabytes.
pub const MAX_PDU_LEN: usize = 64 * 1024;
pub const HEADER_LEN: usize = 16;
pub const INTERFACE_VERSION: u8 = 0x34;

pub mod cmd {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    pub const RESPONSE_BIT: u32 = 0x8000_0000;
}

pub mod status {
    pub const OK: u32 = 0x00;
    pub const INVALID_COMMAND_LENGTH: u32 = 0x02;
    pub const INVALID_COMMAND_ID: u32 = 0x03;
    pub const INVALID_BIND_STATUS: u32 = 0x04;
    pub const SYSTEM_ERROR: u32 = 0x08;
    pub const INVALID_DEST_ADDR: u32 = 0x0B;
    pub const BIND_FAILED: u32 = 0x0D;
    pub const INVALID_PASSWORD: u32 = 0x0E;
    pub const INVALID_SYSTEM_ID: u32 = 0x0F;
    pub const MESSAGE_QUEUE_FULL: u32 = 0x14;
    pub const THROTTLED: u32 = 0x58;
}

pub mod tlv {
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
}

/// esm_class bits this client reads or sets.
pub mod esm {
    /// Bits 5..2: the message type; 0x04 is an SMSC delivery receipt.
    pub const TYPE_MASK: u8 = 0x3C;
    pub const DELIVERY_RECEIPT: u8 = 0x04;
    pub const UDHI: u8 = 0x40;
}

/// The command_status codes in plain words, for agents and logs.
pub fn status_text(code: u32) -> &'static str {
    match code {
        0x00 => "no error",
        0x01 => "message length is invalid",
        0x02 => "command length is invalid",
        0x03 => "invalid command id",
        0x04 => "incorrect bind status for this command",
        0x05 => "already bound",
        0x06 => "invalid priority flag",
        0x07 => "invalid registered delivery flag",
        0x08 => "system error at the SMSC",
        0x0A => "invalid source address",
        0x0B => "invalid destination address",
        0x0C => "invalid message id",
        0x0D => "bind failed",
        0x0E => "invalid password",
        0x0F => "invalid system id",
        0x11 => "cancel failed",
        0x13 => "replace failed",
        0x14 => "message queue full",
        0x15 => "invalid service type",
        0x33 => "invalid number of destinations",
        0x34 => "invalid distribution list name",
        0x40 => "invalid destination flag",
        0x42 => "invalid submit with replace",
        0x43 => "invalid esm_class",
        0x44 => "cannot submit to distribution list",
        0x45 => "submit failed",
        0x48 => "invalid source address TON",
        0x49 => "invalid source address NPI",
        0x50 => "invalid destination address TON",
        0x51 => "invalid destination address NPI",
        0x53 => "invalid system type",
        0x54 => "invalid replace_if_present flag",
        0x55 => "invalid number of messages",
        0x58 => "throttling error: sending too fast",
        0x61 => "invalid scheduled delivery time",
        0x62 => "invalid validity period",
        0x63 => "predefined message not found",
        0x64 => "temporary application error at the receiver",
        0x65 => "permanent application error at the receiver",
        0x66 => "the receiver rejected the message",
        0x67 => "query failed",
        0xC0 => "error in the optional part of the PDU",
        0xC1 => "optional parameter not allowed",
        0xC2 => "invalid parameter length",
        0xC3 => "expected optional parameter missing",
        0xC4 => "invalid optional parameter value",
        0xFE => "delivery failure",
        0xFF => "unknown error",
        _ => "vendor-specific error",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PduError(pub String);

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PduError {}

fn err<T>(msg: impl Into<String>) -> Result<T, PduError> {
    Err(PduError(msg.into()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmAddr {
    pub ton: u8,
    pub npi: u8,
    pub addr: String,
}

/// The body shared by submit_sm and deliver_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sm {
    pub service_type: String,
    pub source: SmAddr,
    pub dest: SmAddr,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

impl Sm {
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs.iter().find(|t| t.tag == tag).map(|t| t.value.as_slice())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// bind_transmitter, bind_receiver or bind_transceiver: the command id tells.
    Bind(Bind),
    BindResp {
        system_id: String,
    },
    SubmitSm(Box<Sm>),
    SubmitSmResp {
        message_id: String,
    },
    DeliverSm(Box<Sm>),
    DeliverSmResp,
    /// Commands without a body (enquire_link, unbind, their responses, generic_nack).
    Empty,
    /// Anything else, kept raw so it can be answered with generic_nack.
    Other(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub command_id: u32,
    pub status: u32,
    pub sequence: u32,
    pub body: Body,
}

impl Pdu {
    pub fn new(command_id: u32, sequence: u32, body: Body) -> Self {
        Pdu { command_id, status: status::OK, sequence, body }
    }

    /// The response to this request with the given status and no body.
    pub fn empty_response(&self, status: u32) -> Pdu {
        let command_id = if self.command_id & cmd::RESPONSE_BIT == 0 {
            self.command_id | cmd::RESPONSE_BIT
        } else {
            cmd::GENERIC_NACK
        };
        let body = match command_id {
            cmd::DELIVER_SM_RESP => Body::DeliverSmResp,
            _ => Body::Empty,
        };
        Pdu { command_id, status, sequence: self.sequence, body }
    }

    pub fn is_response(&self) -> bool {
        self.command_id & cmd::RESPONSE_BIT != 0
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_LEN];
        match &self.body {
            Body::Bind(b) => {
                put_cstr(&mut out, &b.system_id);
                put_cstr(&mut out, &b.password);
                put_cstr(&mut out, &b.system_type);
                out.extend([b.interface_version, b.addr_ton, b.addr_npi]);
                put_cstr(&mut out, &b.address_range);
            }
            Body::BindResp { system_id } => put_cstr(&mut out, system_id),
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => put_sm(&mut out, sm),
            Body::SubmitSmResp { message_id } => put_cstr(&mut out, message_id),
            Body::DeliverSmResp => put_cstr(&mut out, ""),
            Body::Empty => {}
            Body::Other(raw) => out.extend_from_slice(raw),
        }
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        out[0..4].copy_from_slice(&len.to_be_bytes());
        out[4..8].copy_from_slice(&self.command_id.to_be_bytes());
        out[8..12].copy_from_slice(&self.status.to_be_bytes());
        out[12..16].copy_from_slice(&self.sequence.to_be_bytes());
        out
    }

    /// One whole frame, header included, exactly command_length bytes.
    pub fn decode(frame: &[u8]) -> Result<Pdu, PduError> {
        if frame.len() < HEADER_LEN {
            return err(format!("a PDU needs at least {HEADER_LEN} bytes, got {}", frame.len()));
        }
        let len = frame_len(&frame[0..4])?;
        if len != frame.len() {
            return err(format!("command_length says {len} but the frame has {}", frame.len()));
        }
        let mut r = Reader { buf: &frame[4..] };
        let command_id = r.u32()?;
        let status = r.u32()?;
        let sequence = r.u32()?;
        let is_error_response = command_id & cmd::RESPONSE_BIT != 0 && status != status::OK;
        // SMSCs often drop the body of a failed response; that is not malformed.
        if is_error_response && r.buf.is_empty() {
            let body = match command_id {
                cmd::DELIVER_SM_RESP => Body::DeliverSmResp,
                cmd::SUBMIT_SM_RESP => Body::SubmitSmResp { message_id: String::new() },
                cmd::BIND_TRANSCEIVER_RESP | 0x8000_0001 | 0x8000_0002 => Body::BindResp { system_id: String::new() },
                _ => Body::Empty,
            };
            return Ok(Pdu { command_id, status, sequence, body });
        }
        let body = match command_id {
            cmd::BIND_RECEIVER | cmd::BIND_TRANSMITTER | cmd::BIND_TRANSCEIVER => {
                let b = Bind {
                    system_id: r.cstr(16, "system_id")?,
                    password: r.cstr(9, "password")?,
                    system_type: r.cstr(13, "system_type")?,
                    interface_version: r.u8()?,
                    addr_ton: r.u8()?,
                    addr_npi: r.u8()?,
                    address_range: r.cstr(41, "address_range")?,
                };
                Body::Bind(b)
            }
            0x8000_0001 | 0x8000_0002 | cmd::BIND_TRANSCEIVER_RESP => {
                let system_id = r.cstr(16, "system_id")?;
                // The optional sc_interface_version TLV is read and ignored.
                r.tlvs()?;
                Body::BindResp { system_id }
            }
            cmd::SUBMIT_SM => Body::SubmitSm(Box::new(r.sm()?)),
            cmd::DELIVER_SM => Body::DeliverSm(Box::new(r.sm()?)),
            cmd::SUBMIT_SM_RESP => Body::SubmitSmResp { message_id: r.cstr(65, "message_id")? },
            cmd::DELIVER_SM_RESP => {
                if !r.buf.is_empty() {
                    r.cstr(65, "message_id")?;
                }
                Body::DeliverSmResp
            }
            cmd::ENQUIRE_LINK | cmd::ENQUIRE_LINK_RESP | cmd::UNBIND | cmd::UNBIND_RESP | cmd::GENERIC_NACK => {
                Body::Empty
            }
            _ => {
                let raw = r.buf.to_vec();
                r.buf = &[];
                Body::Other(raw)
            }
        };
        if !r.buf.is_empty() {
            return err(format!("{} bytes left over after the body of command 0x{command_id:08X}", r.buf.len()));
        }
        Ok(Pdu { command_id, status, sequence, body })
    }
}

/// Reads command_length from the first four bytes and checks it is sane.
pub fn frame_len(first4: &[u8]) -> Result<usize, PduError> {
    let bytes: [u8; 4] = first4.try_into().map_err(|_| PduError("short length field".into()))?;
    let len = u32::from_be_bytes(bytes) as usize;
    if len < HEADER_LEN {
        return err(format!("command_length {len} is shorter than the header"));
    }
    if len > MAX_PDU_LEN {
        return err(format!("command_length {len} is over the {MAX_PDU_LEN}-byte limit"));
    }
    Ok(len)
}

fn put_cstr(out: &mut Vec<u8>, s: &str) {
    // The spec's strings are ASCII, and are read one byte per character
    // (`Reader::cstr`); written the same way, a string read from an SMSC goes
    // back as the bytes it came as (UTF-8 would turn "é" into two bytes, and
    // could overrun the field). A NUL inside would end the field early, so it
    // is dropped; a character past Latin-1 has no byte and becomes '?'.
    out.extend(s.chars().filter(|&c| c != '\0').map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')));
    out.push(0);
}

fn put_sm(out: &mut Vec<u8>, sm: &Sm) {
    put_cstr(out, &sm.service_type);
    out.extend([sm.source.ton, sm.source.npi]);
    put_cstr(out, &sm.source.addr);
    out.extend([sm.dest.ton, sm.dest.npi]);
    put_cstr(out, &sm.dest.addr);
    out.extend([sm.esm_class, sm.protocol_id, sm.priority_flag]);
    put_cstr(out, &sm.schedule_delivery_time);
    put_cstr(out, &sm.validity_period);
    out.extend([sm.registered_delivery, sm.replace_if_present, sm.data_coding, sm.sm_default_msg_id]);
    // Longer texts travel in parts or in message_payload; the codec never truncates silently.
    let len = u8::try_from(sm.short_message.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(&sm.short_message[..usize::from(len)]);
    for t in &sm.tlvs {
        out.extend(t.tag.to_be_bytes());
        let vlen = u16::try_from(t.value.len()).unwrap_or(u16::MAX);
        out.extend(vlen.to_be_bytes());
        out.extend_from_slice(&t.value[..usize::from(vlen)]);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PduError> {
        if self.buf.len() < n {
            return err(format!("the PDU ends inside {what}"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, PduError> {
        Ok(self.take(1, "a one-byte field")?[0])
    }

    fn u16(&mut self) -> Result<u16, PduError> {
        let b = self.take(2, "a two-byte field")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, PduError> {
        let b = self.take(4, "a four-byte field")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NUL-terminated string of at most `max` bytes, NUL included.
    fn cstr(&mut self, max: usize, what: &str) -> Result<String, PduError> {
        let Some(end) = self.buf.iter().take(max).position(|&b| b == 0) else {
            return err(format!("{what} is not terminated within {max} bytes"));
        };
        let raw = self.take(end + 1, what)?;
        // Addresses and ids are ASCII by spec; anything else is kept readable rather than refused.
        Ok(raw[..end].iter().map(|&b| char::from(b)).collect())
    }

    fn sm(&mut self) -> Result<Sm, PduError> {
        let service_type = self.cstr(6, "service_type")?;
        let source = SmAddr { ton: self.u8()?, npi: self.u8()?, addr: self.cstr(21, "source_addr")? };
        let dest = SmAddr { ton: self.u8()?, npi: self.u8()?, addr: self.cstr(21, "destination_addr")? };
        let esm_class = self.u8()?;
        let protocol_id = self.u8()?;
        let priority_flag = self.u8()?;
        let schedule_delivery_time = self.cstr(17, "schedule_delivery_time")?;
        let validity_period = self.cstr(17, "validity_period")?;
        let registered_delivery = self.u8()?;
        let replace_if_present = self.u8()?;
        let data_coding = self.u8()?;
        let sm_default_msg_id = self.u8()?;
        let sm_length = usize::from(self.u8()?);
        let short_message = self.take(sm_length, "short_message")?.to_vec();
        let tlvs = self.tlvs()?;
        Ok(Sm {
            service_type,
            source,
            dest,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs,
        })
    }

    fn tlvs(&mut self) -> Result<Vec<Tlv>, PduError> {
        let mut out = Vec::new();
        while !self.buf.is_empty() {
            let tag = self.u16()?;
            let len = usize::from(self.u16()?);
            let value = self.take(len, "a TLV value")?.to_vec();
            out.push(Tlv { tag, value });
        }
        Ok(out)
    }
}

/// A C-string TLV value (receipted_message_id) without its NUL.
pub fn tlv_cstr(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    value[..end].iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_sm() -> Sm {
        Sm {
            source: SmAddr { ton: 1, npi: 1, addr: "14155550100".into() },
            dest: SmAddr { ton: 1, npi: 1, addr: "14155552671".into() },
            esm_class: esm::UDHI,
            registered_delivery: 1,
            data_coding: 8,
            short_message: vec![5, 0, 3, 7, 2, 1, 0, 0x41],
            tlvs: vec![Tlv { tag: tlv::MESSAGE_STATE, value: vec![2] }],
            ..Sm::default()
        }
    }

    #[test]
    fn round_trips() {
        let pdus = [
            Pdu::new(
                cmd::BIND_TRANSCEIVER,
                1,
                Body::Bind(Bind {
                    system_id: "desk".into(),
                    password: "secret".into(),
                    system_type: "".into(),
                    interface_version: INTERFACE_VERSION,
                    addr_ton: 0,
                    addr_npi: 0,
                    address_range: "".into(),
                }),
            ),
            Pdu::new(cmd::BIND_TRANSCEIVER_RESP, 1, Body::BindResp { system_id: "SMSC".into() }),
            Pdu::new(cmd::SUBMIT_SM, 2, Body::SubmitSm(Box::new(sample_sm()))),
            Pdu::new(cmd::DELIVER_SM, 3, Body::DeliverSm(Box::new(sample_sm()))),
            Pdu::new(cmd::SUBMIT_SM_RESP, 2, Body::SubmitSmResp { message_id: "abc123".into() }),
            Pdu::new(cmd::DELIVER_SM_RESP, 3, Body::DeliverSmResp),
            Pdu::new(cmd::ENQUIRE_LINK, 4, Body::Empty),
            Pdu::new(cmd::UNBIND_RESP, 5, Body::Empty),
            Pdu::new(0x0000_0103, 6, Body::Other(vec![1, 2, 3])),
        ];
        for pdu in pdus {
            let bytes = pdu.encode();
            assert_eq!(frame_len(&bytes[..4]), Ok(bytes.len()));
            assert_eq!(Pdu::decode(&bytes), Ok(pdu));
        }
    }

    #[test]
    fn enquire_link_matches_the_spec_bytes() {
        let bytes = Pdu::new(cmd::ENQUIRE_LINK, 0x0102_0304, Body::Empty).encode();
        assert_eq!(bytes, [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn failed_responses_may_have_no_body() {
        let mut pdu = Pdu::new(cmd::SUBMIT_SM_RESP, 9, Body::Empty);
        pdu.status = status::THROTTLED;
        let decoded = Pdu::decode(&pdu.encode()).map(|p| (p.status, p.body));
        assert_eq!(decoded, Ok((status::THROTTLED, Body::SubmitSmResp { message_id: String::new() })));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(frame_len(&[0, 0, 0, 3]).is_err());
        assert!(frame_len(&[0, 0x10, 0, 0]).is_err());
        assert!(frame_len(&[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(Pdu::decode(&[0, 0, 0, 16]).is_err());
        let good = Pdu::new(cmd::DELIVER_SM, 3, Body::DeliverSm(Box::new(sample_sm()))).encode();
        // Every truncation, with the length field patched to match, must fail cleanly.
        for cut in HEADER_LEN..good.len() {
            let mut frame = good[..cut].to_vec();
            frame[0..4].copy_from_slice(&(cut as u32).to_be_bytes());
            let _ = Pdu::decode(&frame);
        }
        // An unterminated system_id.
        let mut bind = vec![0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1];
        bind.extend(std::iter::repeat_n(b'a', 40));
        let len = bind.len() as u32;
        bind[0..4].copy_from_slice(&len.to_be_bytes());
        assert!(Pdu::decode(&bind).is_err());
        // Garbage of every short length, and random bytes, never panic.
        for n in 0..200usize {
            let mut frame: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            if frame.len() >= 4 {
                frame[0..4].copy_from_slice(&(n as u32).to_be_bytes());
            }
            if frame.len() >= 8 {
                frame[4..8].copy_from_slice(&cmd::DELIVER_SM.to_be_bytes());
            }
            let _ = Pdu::decode(&frame);
        }
    }

    #[test]
    fn length_mismatch_is_refused() {
        let mut bytes = Pdu::new(cmd::ENQUIRE_LINK, 1, Body::Empty).encode();
        bytes.push(0);
        assert!(Pdu::decode(&bytes).is_err());
    }
}
