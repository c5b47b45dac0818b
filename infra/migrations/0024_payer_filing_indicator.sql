-- The claim filing indicator each payer expects in the 837P's SBR09 (005010X222A1): CI
-- commercial, BL Blue Cross Blue Shield, HM HMO, MB Medicare Part B, MC Medicaid, 12 PPO,
-- 13 POS, 14 EPO, CH Tricare, VA, WC workers' compensation. Until now every claim said CI.
ALTER TABLE payers
    ADD COLUMN claim_filing_indicator TEXT NOT NULL DEFAULT 'CI'
        CONSTRAINT payers_claim_filing_indicator_check
        CHECK (claim_filing_indicator IN ('CI', 'BL', 'HM', 'MB', 'MC', '12', '13', '14', 'CH',
                                          'VA', 'WC'));
