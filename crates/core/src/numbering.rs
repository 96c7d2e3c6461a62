//! Numbering-plan data: where a phone number is, and so its time zone.
//! (Being written: see the tests at the bottom for the interface.)
