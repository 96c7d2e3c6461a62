//! SMPP 3.4: a direct bind to an SMSC.
