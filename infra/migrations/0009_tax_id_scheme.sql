-- How a tax id's AES-GCM associated data was built. 1: the fixed string "providers.tax_id", so a
-- ciphertext copied onto another provider's row opened there too; 2: bound to the provider's
-- id. Rows written before this migration are scheme 1 and keep decrypting until
-- `python -m services.cli reencrypt-tax-ids` rewrites them as scheme 2.
ALTER TABLE providers ADD COLUMN tax_id_scheme SMALLINT NOT NULL DEFAULT 1
    CHECK (tax_id_scheme IN (1, 2));
