public import Foundation
internal import LiaisonLedger
public import LiaisonModel
public import LiaisonSealing
internal import LiaisonStore
internal import Logging
internal import Synchronization

extension Federation {
    /// Checks a peer's signed tree head against the largest one this node
    /// has seen from it, by a consistency proof the peer must give (the
    /// C2SP tlog-witness rules): a head that does not verify, a smaller
    /// latest head (rollback), two roots at one size, or a proof that
    /// fails (fork) raises an alarm, recorded in the ledger, and stops
    /// exchange with the peer until a security officer acknowledges it
    /// (invariant 6). `latest`: the head is the one the peer serves as its
    /// latest (gossip), not an earlier one from a receipt.
    /// `supplied`: a consistency proof that came with the head (a batch
    /// reply's); used when it is between the sizes to check, else one is asked for.
    /// Returns whether the head is now the peer's latest recorded (and kept).
    @discardableResult
    public func observe(
        _ signed: SignedTreeHead, of peer: Party, over transport: any PeerTransport, latest: Bool, knownBefore: Int? = nil,
        supplied: BatchReply.Consistency? = nil, record: Bool = true
    ) async throws(FederationError) -> Bool {
        let head: TreeHead
        do { head = try signed.verified(by: trust) } catch {
            throw await alarm(peer, "its tree head does not verify against its pinned key: \(error.reason)")
        }
        return try await observe(signed, verified: head, of: peer, over: transport, latest: latest, knownBefore: knownBefore, supplied: supplied, record: record)
    }

    /// As above, for a head whose signature the caller has just verified
    /// (a sender checks the head of every reply before anything else): its
    /// hybrid signature is not verified a second time.
    func observe(
        _ signed: SignedTreeHead, verified head: TreeHead, of peer: Party, over transport: any PeerTransport, latest: Bool, knownBefore: Int? = nil,
        supplied: BatchReply.Consistency? = nil, record: Bool = true
    ) async throws(FederationError) -> Bool {
        guard head.party == peer else { throw await alarm(peer, "it served \(head.party)'s tree head as its own") }
        // One check at a time per peer: two concurrent checks against the
        // same known head could each accept a different successor.
        return try await headLock(peer).withLock { () throws(FederationError) -> Bool in
            try await observeLocked(signed, head, of: peer, over: transport, latest: latest, knownBefore: knownBefore, supplied: supplied, record: record)
        }
    }

    private func observeLocked(
        _ signed: SignedTreeHead, _ head: TreeHead, of peer: Party, over transport: any PeerTransport, latest: Bool, knownBefore: Int?,
        supplied: BatchReply.Consistency?, record: Bool
    ) async throws(FederationError) -> Bool {
        let stored = try await storeCall { () throws(StoreError) in try await store.peer(peer) }
        if let alarm = alarm(of: peer, stored: stored.alarm) { throw FederationError(.alarm, "exchange with \(peer) is stopped: \(alarm)") }
        // The larger of the stored head and one verified but not stored yet.
        var knownHead: TreeHead?
        if let bytes = stored.treeHead {
            do { knownHead = try SignedTreeHead(canonical: bytes).body } catch {
                throw FederationError(.unavailable, "the stored tree head of \(peer) does not decode: \(error.reason)")
            }
        }
        if let pending = state.withLock({ $0.verifiedHeads[peer] })?.body, pending.size > (knownHead?.size ?? -1) { knownHead = pending }
        func verified() -> Bool {
            state.withLock { s in
                if head.size > (s.verifiedHeads[peer]?.body.size ?? -1) { s.verifiedHeads[peer] = signed }
            }
            return true
        }
        guard let known = knownHead else {
            if record { try await recordLatest(signed, head, of: peer) }
            return verified()
        }
        let knownSize = known.size
        if head.size == knownSize {
            guard head.root == known.root else {
                throw await alarm(peer, "two different roots at size \(head.size): its ledger has forked")
            }
            return false
        }
        // A latest head smaller than one seen before it was asked for is a
        // rollback. (One seen meanwhile, from a receipt, only needs a proof.)
        if latest, head.size < (knownBefore ?? knownSize) {
            throw await alarm(peer, "its latest tree head has \(head.size) entries, after one of \(knownBefore ?? knownSize): its ledger was rolled back")
        }
        let (old, new) = head.size < knownSize ? (head, known) : (known, head)
        let proofBytes: [UInt8]
        if let supplied, supplied.from == old.size, supplied.to == new.size {
            proofBytes = supplied.proof.bytes
        } else {
        do { proofBytes = try await transport.consistencyProof(from: old.size, to: new.size) } catch {
            if error.code == .transport {
                // Unreachable is not unprovable, unless it goes on.
                let rounds = state.withLock { s -> Int in
                    s.unproven[peer, default: 0] += 1
                    return s.unproven[peer]!
                }
                if rounds >= 3 {
                    throw await alarm(peer, "gave no consistency proof from \(old.size) to \(new.size) in \(rounds) attempts: \(PeerText.clean(error.reason, max: 300))")
                }
                throw error
            }
            throw await alarm(peer, "refused the consistency proof from \(old.size) to \(new.size): \(PeerText.clean(error.reason, max: 300))")
        }
        }
        guard let path = try? AuditPath(packed: proofBytes),
            MerkleLog.verifyConsistency(old: old.size, new: new.size, oldRoot: old.root, newRoot: new.root, proof: path.hashes)
        else {
            throw await alarm(peer, "its tree heads at \(old.size) and \(new.size) are not consistent: its ledger has forked or was rewritten")
        }
        state.withLock { $0.unproven[peer] = nil }
        if head.size > knownSize {
            if record { try await recordLatest(signed, head, of: peer) }
            return verified()
        }
        return false
    }

    private func recordLatest(_ signed: SignedTreeHead, _ head: TreeHead, of peer: Party) async throws(FederationError) {
        do {
            try await store.recordPeerTreeHead(peer, size: head.size, signed: signed.derBytes, at: clock())
        } catch {
            // The checks of this peer are serialised, so a conflict here is a
            // stored head this check did not see: refuse rather than accept.
            throw FederationError(.unavailable, "cannot record \(peer)'s tree head: \(error.reason)")
        }
    }

    /// Raises an alarm about a peer: in force in this process at once, then
    /// stored and recorded in the ledger, and logged.
    func alarm(_ peer: Party, _ what: String) async -> FederationError {
        let text = "\(RFC3339.format(clock())): \(peer) \(PeerText.clean(what, max: 2000))"
        state.withLock { $0.alarms[peer] = text }
        logger.critical("peer alarm", metadata: ["liaison.peer": "\(peer)", "liaison.alarm": "\(text)"])
        let entry = LedgerEntry(kind: .peerAlarm, at: clock(), party: peer, detail: "alarm: \(text)")
        do { _ = try await store.setPeerAlarm(peer, text, ledger: LedgerWrite([entry], sign: signer)) } catch {
            logger.critical("the alarm could not be stored; exchange stays stopped in this process", metadata: ["liaison.peer": "\(peer)", "liaison.error": "\(error)"])
        }
        return FederationError(.alarm, text)
    }

    /// Whether an alarm about `peer` was raised in this process (stored or not).
    func alarmRaised(_ peer: Party) -> Bool { state.withLock { $0.alarms[peer] != nil } }

    /// A security officer acknowledges a peer's alarm: exchange resumes.
    /// The head that raised it is checked again at the next gossip round.
    public func acknowledgeAlarm(_ peer: Party, by officer: String) async throws(FederationError) {
        let record = try await storeCall { () throws(StoreError) in try await store.peer(peer) }
        // Nothing to acknowledge: refused, and nothing recorded.
        guard record.alarm != nil || alarmRaised(peer) else { throw FederationError(.refused, "\(peer) has no alarm") }
        let entry = LedgerEntry(kind: .peerAlarm, at: clock(), party: peer, detail: "alarm acknowledged by \(officer)")
        _ = try await storeCall { () throws(StoreError) in try await store.setPeerAlarm(peer, nil, ledger: LedgerWrite([entry], sign: signer)) }
        state.withLock {
            $0.alarms[peer] = nil
            $0.unproven[peer] = nil
        }
        wake.signal(peer)
    }

    /// One gossip round with a peer: fetch its latest head and check it.
    public func gossipOnce(with peer: Party, over transport: any PeerTransport) async throws(FederationError) {
        let knownBefore = try await storeCall { () throws(StoreError) in try await store.peer(peer) }.treeSize
        let bytes = try await transport.treeHead()
        let signed: SignedTreeHead
        do { signed = try SignedTreeHead(canonical: bytes) } catch {
            throw await alarm(peer, "its tree head does not decode: \(error.reason)")
        }
        _ = try await observe(signed, of: peer, over: transport, latest: true, knownBefore: knownBefore)
    }

    /// Gossips with a peer every `interval` until cancelled.
    public func runGossip(with peer: Party, over transport: any PeerTransport, interval: TimeInterval) async {
        while !Task.isCancelled {
            do { try await gossipOnce(with: peer, over: transport) } catch {
                if error.code != .alarm {
                    logger.info("gossip failed", metadata: ["liaison.peer": "\(peer)", "liaison.error": "\(error.reason)"])
                }
            }
            try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
        }
    }

    /// This node's side of gossip: its latest signed head.
    public func latestTreeHead() async throws(FederationError) -> [UInt8] {
        guard let head = try await storeCall({ () throws(StoreError) in try await store.latestTreeHead() }) else {
            throw FederationError(.notFound, "this node's ledger has no signed tree head yet")
        }
        return head.derBytes
    }

    /// This node's consistency proof between two sizes (a `Path`).
    public func consistencyProof(from old: Int, to new: Int) async throws(FederationError) -> [UInt8] {
        let proof = try await storeCall { () throws(StoreError) in try await store.consistencyProof(old: old, new: new) }
        return AuditPath(proof).bytes
    }
}

extension Federation {
    /// One ledger entry with its inclusion proof (RFC 9162 §2.1.3) under
    /// this node's latest signed head, for an auditor to check on their own:
    /// the entry's leaf hash, the path and the head's root must agree, and
    /// the head's signature verifies against this node's pinned key.
    public func provenEntry(_ index: Int) async throws(FederationError) -> (entry: LedgerEntry, head: SignedTreeHead, proof: [[UInt8]]) {
        guard let head = try await storeCall({ () throws(StoreError) in try await store.latestTreeHead() }) else {
            throw FederationError(.notFound, "this node's ledger has no signed tree head yet")
        }
        let size = head.body.size
        guard index >= 0 else { throw FederationError(.malformed, "an entry's index is 0 or more") }
        guard index < size else {
            let total = try await ledgerSize()
            if index < total {
                throw FederationError(.refused, "entry \(index) is not yet under a signed head (the latest covers \(size)); the next checkpoint signs it")
            }
            throw FederationError(.notFound, "the ledger has \(total) entries; there is no entry \(index)")
        }
        let entry = try await storeCall { () throws(StoreError) in try await store.entry(at: index) }
        let proof = try await storeCall { () throws(StoreError) in try await store.inclusionProof(index: index, size: size) }
        return (entry, head, proof)
    }

    /// A consistency proof between two sizes up to the latest signed head (RFC 9162 §2.1.4).
    public func provenConsistency(
        from old: Int, to new: Int
    ) async throws(FederationError) -> (head: SignedTreeHead, proof: [[UInt8]], headAtTo: SignedTreeHead?) {
        guard let head = try await storeCall({ () throws(StoreError) in try await store.latestTreeHead() }) else {
            throw FederationError(.notFound, "this node's ledger has no signed tree head yet")
        }
        guard old >= 1, old <= new, new <= head.body.size else {
            throw FederationError(.malformed, "a consistency proof is between sizes 1 ≤ from ≤ to ≤ \(head.body.size) (the latest signed head)")
        }
        let proof = try await storeCall { () throws(StoreError) in try await store.consistencyProof(old: old, new: new) }
        // The head signed at `to`, so that a proof to an older size can be checked against a signed root too.
        let atTo: SignedTreeHead?
        if new == head.body.size {
            atTo = head
        } else {
            atTo = try await storeCall { () throws(StoreError) in try await store.treeHead(size: new) }
        }
        return (head, proof, atTo)
    }
}
