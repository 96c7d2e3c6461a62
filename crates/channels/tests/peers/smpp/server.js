// An independent SMSC for crates/channels/tests/smpp_peer.rs, built on node-smpp.
// Usage: node server.js SYSTEM_ID PASSWORD
// Prints one JSON object per line on stdout: first {"event":"listening","port":N},
// then what it saw (binds, submit_sm parts with their UDH, responses to its deliver_sm).
// For each submit_sm it answers with an id and sends a delivery receipt (TLVs and text);
// after a bind it sends a two-part mobile-originated text with a UDH.
'use strict';
const smpp = require('smpp');

const [systemId, password] = process.argv.slice(2);
const log = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let nextId = 1000;

const server = smpp.createServer((session) => {
  session.on('error', (e) => log({ event: 'error', message: String(e && e.message) }));
  session.on('bind_transceiver', (pdu) => {
    if (pdu.system_id !== systemId || pdu.password !== password) {
      log({ event: 'bind_refused', system_id: pdu.system_id });
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      return;
    }
    log({ event: 'bind', system_id: pdu.system_id, interface_version: pdu.interface_version });
    session.send(pdu.response({ system_id: 'NODESMSC' }));
    const parts = ['Hello from the node peer, this is part one; ', 'and this is part two {ok}'];
    parts.forEach((message, i) => {
      session.deliver_sm({
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: '14155552671',
        destination_addr: '14155550100',
        esm_class: 0,
        short_message: { udh: Buffer.from([5, 0, 3, 0x77, parts.length, i + 1]), message },
      });
    });
  });
  session.on('enquire_link', (pdu) => {
    log({ event: 'enquire_link' });
    session.send(pdu.response());
  });
  session.on('unbind', (pdu) => {
    log({ event: 'unbind' });
    session.send(pdu.response());
    session.close();
  });
  session.on('deliver_sm_resp', (pdu) => {
    log({ event: 'deliver_sm_resp', status: pdu.command_status });
  });
  session.on('submit_sm', (pdu) => {
    const id = 'N' + nextId++;
    const sm = pdu.short_message || {};
    const udh = (sm.udh || []).map((b) => Buffer.from(b).toString('hex'));
    log({
      event: 'submit_sm',
      to: pdu.destination_addr,
      from: pdu.source_addr,
      data_coding: pdu.data_coding,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      udh,
      text: typeof sm.message === 'string' ? sm.message : Buffer.from(sm.message || []).toString('hex'),
      message_id: id,
    });
    session.send(pdu.response({ message_id: id }));
    session.deliver_sm({
      source_addr: pdu.destination_addr,
      destination_addr: pdu.source_addr,
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      receipted_message_id: id,
      message_state: smpp.MESSAGE_STATE.DELIVERED,
      short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:',
    });
  });
});

server.listen(0, '127.0.0.1', () => log({ event: 'listening', port: server.address().port }));
