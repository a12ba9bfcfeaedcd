internal import Crypto
internal import Foundation
public import LiaisonModel

/// An envelope whose every claim this node checked itself (invariant 2):
/// only ``EnvelopeOpener`` makes one, so nothing downstream can hold an
/// unverified item by mistake (STYLE habit 3).
public struct VerifiedEnvelope: Sendable, Hashable {
    public let header: EnvelopeHeader
    public let agreement: Agreement.ID
    public let manifest: ItemManifest
    public let originSeal: OriginSeal
    /// The consents, each verified against the originator's pinned key.
    public let consents: [Consent]
    public let payload: [UInt8]
    /// Art 4: the receiver's marking beside the originator's.
    public let marking: DualMarking
    /// The envelope digest (its batch leaf) and the batch root it was signed under.
    public let envelopeDigest: [UInt8]
    public let batchRoot: [UInt8]

    /// The item as its originator sealed it, for a holder to pass on (with
    /// the originator's consent) under its own batch signature.
    public var item: SealedItem { SealedItem(manifest: manifest, seal: originSeal, payload: payload) }
}

/// Opens envelopes addressed to this node: checks, in order, the recipient,
/// the agreement, the batch signature against the sender's pinned key, the
/// envelope's path to the signed root, the origin seal against the
/// originator's pinned key, the consents' signatures, the release policy
/// at the send instant (invariants 1 and 2), then decrypts and checks the
/// payload digest. Batch-level work (signature, decapsulation, origin
/// roots) is done once per distinct batch and cached.
public struct EnvelopeOpener: Sendable {
    public let me: Party
    let decryptionKey: DecryptionKey
    let trust: TrustStore
    let book: AgreementBook
    let agreementsByDigest: [[UInt8]: Agreement]
    private var batchKeys: [DigestKey: SymmetricKey] = [:]
    /// The last release permitted without consents (label, sender, agreement, instant).
    private var lastPermitted: (label: SecurityLabel, from: Party, agreement: Agreement.ID, at: Date)?

    /// Dual markings already computed, by agreement, originator and level.
    private var markings: [MarkingKey: DualMarking] = [:]
    struct MarkingKey: Hashable, Sendable {
        let agreement: String, originator: Party, level: String
    }

    /// Digests of origin roots whose signature verified.
    private var verifiedRoots: Set<DigestKey> = []

    public init(me: Party, decryptionKey: DecryptionKey, trust: TrustStore, book: AgreementBook) {
        self.me = me
        self.decryptionKey = decryptionKey
        self.trust = trust
        self.book = book
        self.agreementsByDigest = Dictionary(
            book.lifecycles.values.map { ($0.agreement.digest, $0.agreement) }, uniquingKeysWith: { a, _ in a })
    }

    /// Opens every envelope of a batch; each succeeds or fails on its own.
    public mutating func open(_ batch: EnvelopeBatch) -> [Result<VerifiedEnvelope, SealingError>] {
        guard batch.envelopes.count == batch.header.body.count else {
            let e = SealingError(.batchPathInvalid, "the batch holds \(batch.envelopes.count) envelopes; its header counts \(batch.header.body.count)")
            return batch.envelopes.map { _ in .failure(e) }
        }
        let headerDigest = SHA256.bytes(batch.header.derBytes)
        let roots = Dictionary(batch.originRoots.map { (DigestKey($0.digest), $0) }, uniquingKeysWith: { a, _ in a })
        // Whole trees at once: when every envelope of the batch is present
        // and the recomputed root matches, each envelope is covered without
        // walking its path (n − 1 hashes instead of n log n). The same for
        // each origin batch carried whole. Otherwise every envelope is
        // checked on its own below.
        let envelopeLeaves = batch.envelopes.map { MerkleHash.leaf($0.digest) }
        let batchTree = MerkleHash.pathsAndRoot(envelopeLeaves)
        let batchWhole = batchTree.root == batch.header.body.root
        var originWhole = Set<DigestKey>()
        let groups = Dictionary(grouping: batch.envelopes.indices, by: { DigestKey(batch.envelopes[$0].originProof.rootDigest) })
        for (digest, members) in groups {
            guard let root = roots[digest], root.count == members.count,
                members.enumerated().allSatisfy({ batch.envelopes[$0.element].originProof.index == $0.offset })
            else { continue }
            let tree = MerkleHash.pathsAndRoot(members.map { MerkleHash.leaf(batch.envelopes[$0].manifest.digest) })
            if tree.root == root.root,
                members.enumerated().allSatisfy({ batch.envelopes[$0.element].originProof.path == tree.paths[$0.offset] })
            {
                originWhole.insert(digest)
            }
        }
        return batch.envelopes.enumerated().map { i, e in
            Result { () throws(SealingError) in
                // The origin roots travel beside the batch signature, not
                // under it: a missing or altered one is the batch's fault
                // (malformed), not the item's, and must not stay held against
                // the item when the genuine batch is sent again.
                guard let root = roots[DigestKey(e.originProof.rootDigest)] else {
                    throw SealingError(.malformed, "the envelope names an origin root its batch does not carry")
                }
                let covered = batchWhole && e.batchIndex == i && e.path == batchTree.paths[i]
                return try open(
                    e, in: batch.header, headerDigest: headerDigest, root: root, rootDigest: e.originProof.rootDigest,
                    covered: covered, bound: originWhole.contains(DigestKey(e.originProof.rootDigest)))
            }
        }
    }

    public mutating func open(_ u: UnverifiedEnvelope) throws(SealingError) -> VerifiedEnvelope {
        let rootDigest = u.originRoot.digest
        guard rootDigest == u.envelope.originProof.rootDigest else {
            throw SealingError(.originSealInvalid, "the envelope names another origin root than the one it carries")
        }
        return try open(
            u.envelope, in: u.header, headerDigest: SHA256.bytes(u.header.derBytes), root: u.originRoot,
            rootDigest: rootDigest, covered: false, bound: false)
    }

    /// `covered`: the envelope's place under the batch root is already
    /// verified; `bound`: its item's place under the origin root is.
    private mutating func open(
        _ e: Envelope, in signedHeader: Signed<BatchHeader>, headerDigest: [UInt8], root: OriginRoot, rootDigest: [UInt8],
        covered: Bool, bound: Bool
    ) throws(SealingError) -> VerifiedEnvelope {
        let bh = signedHeader.body
        guard bh.to == me, e.header.to == me else {
            throw SealingError(.wrongRecipient, "the envelope is addressed to \(e.header.to), not to \(me)")
        }
        guard e.header.from == bh.from, e.header.agreementDigest == bh.agreementDigest else {
            throw SealingError(.batchPathInvalid, "the envelope's header does not match its batch")
        }
        guard let agreement = agreementsByDigest[bh.agreementDigest] else {
            throw SealingError(.wrongAgreement, "the envelope travels under an agreement this node does not hold (digest \(Hex.encode(bh.agreementDigest.prefix(8)))…)")
        }
        guard bh.suite == agreement.suite else {
            throw SealingError(.suiteMismatch, "\(agreement.id) uses \(agreement.suite.rawValue), the batch \(bh.suite.rawValue)")
        }
        // The batch: signature once, then this envelope's path to its root.
        let key: SymmetricKey
        if let cached = batchKeys[DigestKey(headerDigest)] {
            key = cached
        } else {
            _ = try signedHeader.verified(by: trust)
            key = try batchKey(bh)
            batchKeys[DigestKey(headerDigest)] = key
        }
        guard covered || MerkleHash.root(fromLeaf: MerkleHash.leaf(e.digest), index: e.batchIndex, size: bh.count, path: e.path) == bh.root else {
            throw SealingError(.batchPathInvalid, "the envelope is not covered by its batch's signed root (altered or misplaced)")
        }
        // The origin seal: the originator's signature over the item's root.
        let label = e.manifest.label
        let itemDigest = e.manifest.digest
        let seal = OriginSeal(root: root, index: e.originProof.index, path: e.originProof.path)
        guard root.originator == label.originator, bound || seal.binds(itemDigest: itemDigest, originator: label.originator) else {
            throw SealingError(.originSealInvalid, "the origin seal does not bind this label and payload digest (altered after sealing)")
        }
        if !verifiedRoots.contains(DigestKey(rootDigest)) {
            let originKey = try trust.verifier(root.signature.keyID, of: root.originator, at: root.sealedAt)
            do {
                try originKey.verify(root.signature, over: try root.bodyBytes(), structure: OriginRoot.bodyName)
            } catch let error as SealingError {
                throw SealingError(.originSealInvalid, "the originator's seal does not verify: \(error.reason)")
            } catch {
                throw SealingError(.originSealInvalid, "the originator's seal cannot be encoded")
            }
            verifiedRoots.insert(DigestKey(rootDigest))
        }
        // Consents: each must be the originator's, signed with its pinned key.
        var consents: [Consent] = []
        for signed in e.consents {
            let body: ConsentBody
            do {
                body = try signed.verified(by: trust)
            } catch {
                // A consent not signed with its originator's pinned key is no consent: the third-party rule refuses.
                let reason = "consent \(signed.body.consent.id) does not verify against \(signed.body.consent.originator)'s pinned key: \(error.reason)"
                throw SealingError(.consentInvalid, reason, refusal: Refusal(.consentInvalid, .thirdParty, reason))
            }
            consents.append(body.consent)
        }
        // The release policy, re-checked here at the send instant. Without
        // consents the decision depends only on the label, the link, the
        // agreement and the instant: envelopes of a batch that repeat the
        // previous one's label reuse its permission.
        let permittedBefore =
            consents.isEmpty && lastPermitted.map {
                $0.label == label && $0.from == bh.from && $0.agreement == agreement.id && $0.at == e.header.at
            } == true
        if !permittedBefore {
            let request = ReleaseRequest(
                item: ItemFacts(digest: Hex.encode(itemDigest), label: label), holder: bh.from, recipient: me,
                agreement: agreement.id, instant: e.header.at, consents: consents)
            if case .refused(let refusal) = ReleasePolicy.evaluate(request, book: book) {
                let code: SealingError.Code =
                    [.consentRequired, .consentInvalid].contains(refusal.code) ? .consentInvalid : .policyRefused
                throw SealingError(code, refusal.description, refusal: refusal)
            }
            lastPermitted = consents.isEmpty ? (label, bh.from, agreement.id, e.header.at) : nil
        }
        // The payload.
        let payload: [UInt8]
        do {
            guard e.ciphertext.count >= 16 else { throw SealingError(.decryptionFailed, "the ciphertext is truncated") }
            let box = try AES.GCM.SealedBox(
                nonce: BatchHeader.nonce(e.batchIndex), ciphertext: e.ciphertext.dropLast(16), tag: e.ciphertext.suffix(16))
            payload = Array(try AES.GCM.open(box, using: key, authenticating: BatchHeader.aad(header: e.header, itemDigest: itemDigest)))
        } catch {
            throw SealingError(.decryptionFailed, "the payload does not decrypt under this node's key (altered, or not for this node)")
        }
        guard payload.count == e.manifest.payloadSize, SHA256.bytes(payload) == e.manifest.payloadDigest else {
            throw SealingError(.payloadDigestMismatch, "the payload does not match the digest its originator sealed")
        }
        let markingKey = MarkingKey(agreement: agreement.id, originator: label.originator, level: label.level)
        let marking: DualMarking
        if let known = markings[markingKey] {
            marking = known
        } else {
            guard case .success(let made) = DualMarking.make(agreement: agreement, originator: label.originator, level: label.level, receiver: me) else {
                throw SealingError(.policyRefused, "no dual marking for \(label.level)")
            }
            markings[markingKey] = made
            marking = made
        }
        return VerifiedEnvelope(
            header: e.header, agreement: agreement.id, manifest: e.manifest, originSeal: seal, consents: consents,
            payload: payload, marking: marking, envelopeDigest: e.digest, batchRoot: bh.root)
    }

    private func batchKey(_ bh: BatchHeader) throws(SealingError) -> SymmetricKey {
        do {
            let info = Data(BatchHeader.hpkeInfo(from: bh.from, to: bh.to, agreementDigest: bh.agreementDigest))
            let recipient: HPKE.Recipient
            switch decryptionKey {
            case .xwing(let k):
                recipient = try HPKE.Recipient(
                    privateKey: k, ciphersuite: decryptionKey.ciphersuite, info: info, encapsulatedKey: Data(bh.encapsulatedKey))
            case .p384(let k):
                recipient = try HPKE.Recipient(
                    privateKey: k, ciphersuite: decryptionKey.ciphersuite, info: info, encapsulatedKey: Data(bh.encapsulatedKey))
            }
            return try recipient.exportSecret(context: BatchHeader.exportContext, outputByteCount: 32)
        } catch {
            throw SealingError(.decryptionFailed, "the batch key does not decapsulate with this node's key")
        }
    }
}
