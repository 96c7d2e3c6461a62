-- Erasure (privacy, F14): a contact erased keeps a row with its fields cleared
-- (conversations and the consent ledger point at it); its addresses are kept
-- only as keyed hashes, so a later text or send from the same number still
-- finds the opt-outs the ledger proves.
ALTER TABLE contacts ADD COLUMN erased_at INTEGER;

CREATE TABLE erased_identities (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    erased_at INTEGER NOT NULL
);
CREATE INDEX erased_identities_hash ON erased_identities (account_id, address_hash);
