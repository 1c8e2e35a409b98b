import AudienceModel

extension LedgerConnection {
    func hashingRules() throws -> String? {
        let statement = try connection.prepare("SELECT value FROM setting WHERE key = 'hashing_rules'")
        defer { statement.reset() }
        return try statement.step() ? statement.string(0) : nil
    }
}

extension Ledger {
    /// Records `rules` (``IdentifierRules/hashingKey``) as those plain identifiers are hashed with
    /// from now on, and returns the rules recorded before when they differ: members hashed under
    /// those stay at TikTok under their old hashes, which the operator must hear about once.
    public func noteHashingRules(_ rules: String) throws -> String? {
        try withConnection { ledger in
            let recorded = try ledger.hashingRules()
            guard recorded != rules else { return nil }
            let statement = try ledger.connection.prepare(
                "INSERT INTO setting (key, value) VALUES ('hashing_rules', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            statement.bind(1, rules)
            try statement.run()
            return recorded
        }
    }
}

extension LedgerReader {
    /// The MAID type earlier versions gave a maid without one, when this ledger holds MAIDs sent
    /// then (nil otherwise): it stays the default until the configuration sets one.
    public func legacyMAIDType() throws -> MAIDType? {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT value FROM setting WHERE key = 'legacy_maid_type'")
            defer { statement.reset() }
            return try statement.step() ? MAIDType(rawValue: statement.string(0)) : nil
        }
    }

    /// The rules plain identifiers were last hashed with (nil: none recorded yet).
    public func hashingRules() throws -> String? {
        try withConnection { try $0.hashingRules() }
    }
}
