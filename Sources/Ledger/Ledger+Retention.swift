extension Ledger {
    /// Forgets the records of files taken before `cutoff` (seconds since 1970): a re-upload of
    /// their bytes counts as a new file from then on. Kept whatever their age: held files (their
    /// record is what holds a re-upload again), applied files TikTok has not confirmed yet (their
    /// receipt is still to be stamped), the last file applied (the seal is checked against it),
    /// and approvals younger than `cutoff`. Returns how many file records went.
    @discardableResult
    public func forgetFiles(takenBefore cutoff: Int64) throws -> Int {
        try withConnection { ledger in
            try ledger.connection.transaction {
                let files = try ledger.connection.prepare(
                    """
                    DELETE FROM file
                    WHERE planned_at < ?1
                      AND (outcome = 'rejected' OR (outcome = 'applied' AND confirmed_at IS NOT NULL AND archived_as IS NOT NULL))
                      AND coalesce(generation, -1) <> (SELECT coalesce(max(generation), 0) FROM file WHERE outcome = 'applied')
                    RETURNING generation
                    """)
                files.bind(1, cutoff)
                var forgotten = 0
                var generations: [Int64] = []
                while try files.step() {
                    forgotten += 1
                    if let generation = files.optionalInt(0) { generations.append(generation) }
                }
                files.reset()
                // What `lookup` shows goes as far back as the files remembered.
                try ledger.forgetTrail(generations: generations)
                let requests = try ledger.connection.prepare("DELETE FROM request WHERE sent_at < ?1")
                requests.bind(1, cutoff)
                try requests.run()
                let approvals = try ledger.connection.prepare(
                    "DELETE FROM approved_file WHERE approved_at < ?1 AND fingerprint NOT IN (SELECT fingerprint FROM file)")
                approvals.bind(1, cutoff)
                try approvals.run()
                return forgotten
            }
        }
    }
}
