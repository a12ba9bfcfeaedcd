import Crypto
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonHTTP
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import Logging
import SwiftASN1
import Synchronization
import Testing
import X509

/// Peers that misbehave, over real mutual TLS on loopback: each is refused
/// with a specific reason, changes nothing it should not, and (where it is
/// an act) is in the ledger.
@Suite("Hostile peers", .serialized) struct HostilePeerTests {
    struct Node {
        let signing: SigningKey
        let identity: NodeIdentity
    }

    static func keys(_ net: LocalFederation, _ p: Party) throws -> Node {
        let n = try NodeDirectory(path: net[p].settings.directory).load()
        return Node(signing: n.signing, identity: n.identity)
    }

    static func agreement(_ net: LocalFederation, _ id: String) throws -> Agreement {
        try #require(try ExampleSet(directory: net.directory + "/agreements").agreements[id])
    }

    /// A batch KOR seals for JPN directly (bypassing KOR's own release check).
    static func batch(
        _ net: LocalFederation, items: [SealedItem], sequences: [Int], agreement: String = "gsomia-kor-jpn-2016", at: Date = Date(),
        consents: [Signed<ConsentBody>] = [], from: Party = .kor, to: Party = .jpn
    ) throws -> EnvelopeBatch {
        try keys(net, from).signing.sealBatch(
            items.map { Outgoing(item: $0, consents: consents) }, from: from, to: to, recipientKey: keys(net, to).identity.encryptionKey,
            agreement: try Self.agreement(net, agreement), sequences: sequences, at: at)
    }

    static func start(_ parties: [Party] = [.kor, .jpn]) async throws -> LocalFederation {
        try await LocalFederation.start(parties: parties, examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger) { s in
            s.gossipInterval = 3600
        }
    }

    static func entries(_ store: any NodeStore, from: Int) async throws -> [LedgerEntry] {
        var out: [LedgerEntry] = []
        for i in from..<(try await store.size()) { out.append(try await store.entry(at: i)) }
        return out
    }

    // MARK: TLS

    /// PEM of a JPN node certificate issued by `rootKey` (JPN's real root or another).
    static func certificate(issuer root: Certificate, rootKey: P384.Signing.PrivateKey, notBefore: Date, notAfter: Date) throws -> (String, String) {
        let key = P384.Signing.PrivateKey()
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: root.subject, subject: try DistinguishedName { CommonName("Liaison JPN node") }, signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName("localhost")])
            }, issuerPrivateKey: .init(rootKey))
        return (try cert.serializeAsPEM().pemString, key.pemRepresentation)
    }

    static func transport(_ net: LocalFederation, as pem: (String, String), to p: Party) async throws -> HTTPPeerTransport {
        let tls = try PeerTLS(
            certificatePEM: pem.0, keyPEM: pem.1, identities: [try keys(net, p).identity],
            agreements: Array(try ExampleSet(directory: net.directory + "/agreements").agreements.values))
        return try HTTPPeerTransport(peer: p, endpoint: await net.address(of: p), tls: tls, timeout: 5)
    }

    @Test func certificatesFromAnotherCAOrExpiredFailAtTheHandshake() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let jpnDir = net[.jpn].settings.directory
        let realRoot = try Certificate(pemEncoded: String(contentsOfFile: jpnDir + "/tls-root-ca.pem", encoding: .utf8))
        let realRootKey = try P384.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: jpnDir + "/keys/tls-root-ca.key.pem", encoding: .utf8))
        let now = Date()
        // The control: a fresh certificate from JPN's pinned root is accepted.
        let good = try await Self.transport(net, as: Self.certificate(issuer: realRoot, rootKey: realRootKey, notBefore: now - 60, notAfter: now + 3600), to: .kor)
        #expect(try SignedTreeHead(canonical: try await good.treeHead()).body.party == .kor)
        await good.shutdown()
        // Another CA, even one with the same name as JPN's.
        let otherKey = P384.Signing.PrivateKey()
        let impostorRoot = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(otherKey.publicKey), notValidBefore: now - 60, notValidAfter: now + 86_400,
            issuer: realRoot.subject, subject: realRoot.subject, signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0)) }, issuerPrivateKey: .init(otherKey))
        let impostor = try await Self.transport(
            net, as: Self.certificate(issuer: impostorRoot, rootKey: otherKey, notBefore: now - 60, notAfter: now + 3600), to: .kor)
        await #expect(throws: FederationError(.transport, "")) { _ = try await impostor.treeHead() }
        await impostor.shutdown()
        // JPN's own root, but the certificate expired yesterday.
        let expired = try await Self.transport(
            net, as: Self.certificate(issuer: realRoot, rootKey: realRootKey, notBefore: now - 86_400 * 400, notAfter: now - 86_400), to: .kor)
        await #expect(throws: FederationError(.transport, "")) { _ = try await expired.treeHead() }
        await expired.shutdown()
    }

    /// A client that opens a connection and sends the first bytes of a TLS
    /// handshake, then nothing, is cut off at the handshake deadline on
    /// both APIs, not held until the idle timeout, and the peer link keeps
    /// working. (That a finished handshake is never cut off is shown on
    /// one connection in `HandshakeDeadlineTests`: a client here would
    /// reconnect without telling.)
    @Test func aHandshakeThatNeverFinishesIsClosedAtTheDeadline() async throws {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger) { s in
            s.gossipInterval = 3600
            s.handshakeDeadline = 1
        }
        defer { Task { await net.stop() } }
        let link = net[.jpn].transport(to: .kor)
        #expect(try SignedTreeHead(canonical: try await link.treeHead()).body.party == .kor)
        for port in [await net[.kor].port(), await net[.kor].consolePort()] {
            // The idle timeout would hold it 60 s or more.
            let stalled = Loopback.stalledHandshake(port: port)
            #expect(stalled.closed, "port \(port): the server did not close the stalled connection")
            #expect(stalled.after < .seconds(6), "port \(port)")
        }
        // The peer link still serves.
        #expect(try SignedTreeHead(canonical: try await link.treeHead()).body.party == .kor)
    }

    /// The party behind a request's certificate: the issuing root is found
    /// once per leaf, but whether that party may exchange is asked on every
    /// request, and a leaf no pinned root signed stays refused.
    @Test func aLeafRecognisedOnceIsStillRefusedWhenItsAgreementIsNoLongerInForce() throws {
        let rootKey = P384.Signing.PrivateKey()
        let now = Date()
        let name = try DistinguishedName { CommonName("JPN root") }
        let root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey), notValidBefore: now - 60, notValidAfter: now + 86_400,
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0)) }, issuerPrivateKey: .init(rootKey))
        let inForce = Mutex<Set<Party>>([.jpn])
        let verifier = PeerVerifier(roots: [.jpn: root], parties: { _ in inForce.withLock { $0 } }, clock: { now })
        let leaf = try Certificate(pemEncoded: Self.certificate(issuer: root, rootKey: rootKey, notBefore: now - 60, notAfter: now + 3600).0)
        var serializer = DER.Serializer()
        try serializer.serialize(leaf)
        let der = serializer.serializedBytes
        #expect(verifier.party(ofDER: der) == .jpn)
        #expect(verifier.party(ofDER: der) == .jpn)
        inForce.withLock { $0 = [] }
        #expect(verifier.party(ofDER: der) == nil)
        inForce.withLock { $0 = [.jpn] }
        #expect(verifier.party(ofDER: der) == .jpn)
        // The same issuer name, signed by another key: refused, and again.
        let forged = try Certificate(pemEncoded: Self.certificate(issuer: root, rootKey: P384.Signing.PrivateKey(), notBefore: now - 60, notAfter: now + 3600).0)
        var forgedSerializer = DER.Serializer()
        try forgedSerializer.serialize(forged)
        let forgedDER = forgedSerializer.serializedBytes
        #expect(verifier.party(ofDER: forgedDER) == nil)
        #expect(verifier.party(ofDER: forgedDER) == nil)
        #expect(verifier.party(ofDER: [0x30, 0x03, 0x02, 0x01]) == nil)
    }

    // MARK: Batches

    @Test func aReplayedBatchIsAnsweredWithItsFirstOutcomesAndStoredOnce() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate((0..<3).map { (ExchangeTests.label(), "text/plain", Array("r\($0)".utf8)) })
        let batch = try Self.batch(net, items: sealed, sequences: [101, 102, 103])
        let link = net[.kor].transport(to: .jpn)
        let first = try BatchReply(canonical: try await link.sendBatch(batch.derBytes, knownSize: nil))
        let size = try await net[.jpn].store.size()
        let again = try BatchReply(canonical: try await link.sendBatch(batch.derBytes, knownSize: nil))
        #expect(again.outcomes.map(\.leafIndex) == first.outcomes.map(\.leafIndex))
        #expect(again.outcomes.map(\.entry) == first.outcomes.map(\.entry))
        #expect(try await net[.jpn].store.size() == size, "a replay appends nothing")
        for o in again.outcomes {
            #expect(try LedgerEntry(canonical: o.entry).kind == .itemReceived)
            try again.receipt(o).verify(trust: net[.jpn].ledgerTrust)
        }
        #expect(try await net[.jpn].store.holdings(after: nil, limit: 100).count == 3)
        // The same link numbers resealed later (a sender's retry) are duplicates too.
        let resealed = try Self.batch(net, items: sealed, sequences: [101, 102, 103], at: Date().addingTimeInterval(1))
        let third = try BatchReply(canonical: try await link.sendBatch(resealed.derBytes, knownSize: nil))
        #expect(third.outcomes.map(\.leafIndex) == first.outcomes.map(\.leafIndex))
        // A link number reused for another item is refused as a replay, and recorded.
        let other = try await net[.kor].federation.originate([(ExchangeTests.label(), "text/plain", Array("other".utf8))])
        let forged = try BatchReply(canonical: try await link.sendBatch(try Self.batch(net, items: other, sequences: [102]).derBytes, knownSize: nil))
        let entry = try LedgerEntry(canonical: forged.outcomes[0].entry)
        #expect(entry.kind == .itemRefused)
        #expect(entry.detail.contains("replay"))
        await #expect(throws: StoreError(.notFound, "")) { _ = try await net[.jpn].store.item(other[0].manifest.itemID) }
    }

    @Test func batchesOutOfOrderAreEachAppliedOnce() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate((0..<4).map { (ExchangeTests.label(), "text/plain", Array("o\($0)".utf8)) })
        let link = net[.kor].transport(to: .jpn)
        for (items, seqs) in [([sealed[2], sealed[3]], [203, 204]), ([sealed[0], sealed[1]], [201, 202]), ([sealed[2]], [203])] {
            let reply = try BatchReply(canonical: try await link.sendBatch(try Self.batch(net, items: items, sequences: seqs).derBytes, knownSize: nil))
            #expect(try reply.outcomes.allSatisfy { try LedgerEntry(canonical: $0.entry).kind == .itemReceived })
        }
        #expect(try await net[.jpn].store.holdings(after: nil, limit: 100).count == 4)
        let known = try await net[.jpn].store.inboundState(peer: .kor, sequences: [201, 202, 203, 204], itemIDs: [])
        #expect(known.records.count == 4)
    }

    @Test func tamperedEnvelopesAreRefusedAndRecordedOnBothSides() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate((0..<2).map { (ExchangeTests.label(), "text/plain", Array("t\($0)".utf8)) })
        let batch = try Self.batch(net, items: sealed, sequences: [301, 302])
        // Flip one byte of the second envelope's ciphertext in the wire bytes.
        var bytes = batch.derBytes
        let ciphertext = batch.envelopes[1].ciphertext
        let at = try #require(bytes.indices.first { i in i + ciphertext.count <= bytes.count && Array(bytes[i..<(i + ciphertext.count)]) == ciphertext })
        bytes[at + 3] ^= 0x40
        let before = try await net[.jpn].store.size()
        let reply = try BatchReply(canonical: try await net[.kor].transport(to: .jpn).sendBatch(bytes, knownSize: nil))
        let outcomes = try reply.outcomes.map { try LedgerEntry(canonical: $0.entry) }
        #expect(outcomes[0].kind == .itemReceived)
        #expect(outcomes[1].kind == .itemRefused)
        #expect(outcomes[1].detail.contains("batchPathInvalid") || outcomes[1].detail.contains("decryption"), "\(outcomes[1].detail)")
        await #expect(throws: StoreError(.notFound, "")) { _ = try await net[.jpn].store.item(sealed[1].manifest.itemID) }
        #expect(try await net[.jpn].store.size() == before + 2)
        // A body that is not a batch is refused whole, and recorded.
        await #expect(throws: FederationError(.transport, "")) { _ = try await net[.kor].transport(to: .jpn).sendBatch([0x30, 0x03, 0x02, 0x01], knownSize: nil) }
        let last = try await net[.jpn].store.entry(at: try await net[.jpn].store.size() - 1)
        #expect(last.kind == .itemRefused && last.detail.hasPrefix("batch refused"))
        // A batch sealed by KOR but sent over USA's connection is refused: the connection names the sender.
        _ = last
    }

    /// The origin roots travel beside the batch signature, not under it: a
    /// batch whose root was altered is refused as the batch's fault, not the
    /// item's, so the genuine batch with the same link sequence is accepted
    /// afterwards (the refusal is not kept for retries).
    @Test func aBatchWithAnAlteredOriginRootDoesNotSpoilTheGenuineOne() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(), "text/plain", Array("root".utf8))])
        let batch = try Self.batch(net, items: sealed, sequences: [401])
        var root = batch.originRoots[0]
        root.root[0] ^= 0x01
        var w = DERWriter()
        try w.sequence { s in
            s.integer(protocolVersion)
            try batch.header.encode(into: &s)
            try s.sequence { rs in try root.encode(into: &rs) }
            try s.sequence { es in for e in batch.envelopes { try e.encode(into: &es) } }
        }
        let transport = net[.kor].transport(to: .jpn)
        let first = try BatchReply(canonical: try await transport.sendBatch(w.bytes, knownSize: nil))
        #expect(try LedgerEntry(canonical: first.outcomes[0].entry).kind == .itemRefused)
        let second = try BatchReply(canonical: try await transport.sendBatch(batch.derBytes, knownSize: nil))
        let entry = try LedgerEntry(canonical: second.outcomes[0].entry)
        #expect(entry.kind == .itemReceived, "\(entry.detail)")
        #expect(try await net[.jpn].store.item(sealed[0].manifest.itemID).manifest.digest == sealed[0].manifest.digest)
    }

    /// A refusal of the batch rather than of the item (here JPN's clock is
    /// outside the replay window) is not final at the sender: the task is
    /// retried, with JPN's reason as its last error, and delivered once the
    /// cause is gone. Nothing is lost to a transient refusal.
    @Test func aRefusalNotKeptIsRetriedUntilTheItemIsDelivered() async throws {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger) { s in
            s.gossipInterval = 3600
            s.federation.retryBase = 0.05
            s.federation.retryCap = 0.2
            // Every batch is outside JPN's window, as if its clock were far off.
            if s.directory.hasSuffix("/jpn") { s.federation.replayWindow = -1 }
        }
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(), "text/plain", Array("skew".utf8))])
        let task = try await net[.kor].federation.release(itemID: sealed[0].manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        var seen = task
        for _ in 0..<250 {
            seen = try await net[.kor].store.outboxTask(task.id)
            if seen.attempts >= 3 || seen.state == .refused { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(seen.state != .refused && seen.attempts >= 3, "\(seen)")
        #expect(seen.lastError?.contains("replay window") == true, "\(seen.lastError ?? "")")
        // JPN's clock is put right: the next retry is delivered, once.
        await net.stop(.jpn)
        try await net.restart(.jpn) { $0.federation.replayWindow = 300 }
        let done = try await ExchangeTests.settled(net[.kor], [task.id])
        #expect(done[0].state == .done, "\(done[0])")
        #expect(try await net[.jpn].store.item(sealed[0].manifest.itemID).payload == Array("skew".utf8))
    }

    @Test func aBatchSealedLongAgoIsOutsideTheReplayWindow() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(), "text/plain", Array("stale".utf8))])
        let stale = try Self.batch(net, items: sealed, sequences: [401], at: Date().addingTimeInterval(-3600))
        let reply = try BatchReply(canonical: try await net[.kor].transport(to: .jpn).sendBatch(stale.derBytes, knownSize: nil))
        let entry = try LedgerEntry(canonical: reply.outcomes[0].entry)
        #expect(entry.kind == .itemRefused)
        #expect(entry.detail.contains("replay window"))
    }

    // MARK: Ledger attacks

    /// Refuses every consistency proof, with a long detail full of control characters.
    struct RefusingTransport: PeerTransport {
        let real: any PeerTransport
        func sendBatch(_ batch: [UInt8], knownSize: Int?) async throws(FederationError) -> [UInt8] { try await real.sendBatch(batch, knownSize: knownSize) }
        func treeHead() async throws(FederationError) -> [UInt8] { try await real.treeHead() }
        func consistencyProof(from old: Int, to new: Int) async throws(FederationError) -> [UInt8] {
            throw FederationError(.refused, "JPN answered 500: " + String(repeating: "\u{7}\n\u{0}no proof for you ", count: 2000))
        }
        func sendStatements(_ bundle: [UInt8]) async throws(FederationError) -> [UInt8] { try await real.sendStatements(bundle) }
    }

    @Test func aPeerThatWillNotProveConsistencyRaisesAnAlarm() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation
        let link = net[.kor].transport(to: .jpn)
        try await kor.gossipOnce(with: .jpn, over: link)
        let sealed = try await kor.originate([(ExchangeTests.label(), "text/plain", Array("p".utf8))])
        _ = try await link.sendBatch(try Self.batch(net, items: sealed, sequences: [701]).derBytes, knownSize: nil)
        await #expect(throws: FederationError(.alarm, "")) { try await kor.gossipOnce(with: .jpn, over: RefusingTransport(real: link)) }
        // The alarm is stored (its text cleaned and bounded) and in the ledger.
        let alarm = try #require(try await net[.kor].store.peer(.jpn).alarm)
        #expect(alarm.contains("refused the consistency proof"))
        #expect(alarm.utf8.count < 2500)
        #expect(!alarm.unicodeScalars.contains { $0.properties.generalCategory == .control })
    }

    @Test func aRefusalOfTheBatchNotOfTheItemIsNotKeptForRetries() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(), "text/plain", Array("late".utf8))])
        let link = net[.kor].transport(to: .jpn)
        let stale = try BatchReply(canonical: try await link.sendBatch(try Self.batch(net, items: sealed, sequences: [801], at: Date().addingTimeInterval(-3600)).derBytes, knownSize: nil))
        #expect(try LedgerEntry(canonical: stale.outcomes[0].entry).kind == .itemRefused)
        // The sender's retry, sealed anew under the same link number, is checked afresh and accepted.
        let fresh = try BatchReply(canonical: try await link.sendBatch(try Self.batch(net, items: sealed, sequences: [801]).derBytes, knownSize: nil))
        #expect(try LedgerEntry(canonical: fresh.outcomes[0].entry).kind == .itemReceived)
        #expect(try await net[.jpn].store.item(sealed[0].manifest.itemID).payload == Array("late".utf8))
    }

    @Test(arguments: ["fork", "rollback", "unprovable"])
    func aPeerShowingAnotherHistoryIsCaughtAndExchangeStops(_ attack: String) async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation
        let link = net[.kor].transport(to: .jpn)
        try await kor.gossipOnce(with: .jpn, over: link)
        // JPN's ledger grows (it records what it receives).
        let sealed = try await kor.originate([(ExchangeTests.label(), "text/plain", Array("g".utf8))])
        _ = try await link.sendBatch(try Self.batch(net, items: sealed, sequences: [501]).derBytes, knownSize: nil)
        try await kor.gossipOnce(with: .jpn, over: link)
        let seen = try #require(try await net[.kor].store.peer(.jpn).treeSize)
        let jpnKey = try Self.keys(net, .jpn).signing
        let lying: LyingTransport
        switch attack {
        case "fork":
            let forged = try Signed(signing: TreeHead(party: .jpn, size: seen, root: [UInt8](repeating: 7, count: 32), at: Date()), with: jpnKey)
            lying = LyingTransport(real: link, head: forged.derBytes, proof: nil)
        case "rollback":
            let real = try SignedTreeHead(canonical: try await link.treeHead()).body
            let smaller = try Signed(signing: TreeHead(party: .jpn, size: seen - 1, root: try await net[.jpn].store.root(size: seen - 1), at: Date()), with: jpnKey)
            _ = real
            lying = LyingTransport(real: link, head: smaller.derBytes, proof: nil)
        default:
            // A larger head whose consistency proof does not hold.
            _ = try await link.sendBatch(try Self.batch(net, items: sealed, sequences: [502]).derBytes, knownSize: nil)
            lying = LyingTransport(real: link, head: nil, proof: [UInt8](repeating: 1, count: 64))
        }
        await #expect(throws: FederationError(.alarm, "")) { try await kor.gossipOnce(with: .jpn, over: lying) }
        let status = try #require(try await kor.status().first { $0.party == .jpn })
        #expect(status.alarm != nil)
        let alarmEntry = try await net[.kor].store.entry(at: try await net[.kor].store.size() - 1)
        #expect(alarmEntry.kind == .peerAlarm)
        // Exchange stops both ways until a security officer acknowledges.
        let more = try await kor.originate([(ExchangeTests.label(), "text/plain", Array("held back".utf8))])
        let task = try await kor.release(itemID: more[0].manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        #expect(try await kor.sendOnce(to: .jpn, over: link) == .stopped(status.alarm!))
        #expect(try await net[.kor].store.outboxTask(task.id).state == .pending)
        try await kor.acknowledgeAlarm(.jpn, by: "security-officer-kim")
        #expect(try await kor.status().first { $0.party == .jpn }?.alarm == nil)
        let done = try await ExchangeTests.settled(net[.kor], [task.id])
        #expect(done[0].state == .done)
    }

    // MARK: Agreements

    @Test func afterTerminationNothingNewMovesAndHeldItemsStay() async throws {
        let net = try await Self.start()
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation, jpn = net[.jpn].federation
        let sealed = try await kor.originate((0..<2).map { (ExchangeTests.label(), "text/plain", Array("before \($0)".utf8)) })
        let t = try await kor.release(itemID: sealed[0].manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        #expect(try await ExchangeTests.settled(net[.kor], [t.id])[0].state == .done)
        // KOR lifts its suspension: the agreement terminates at once; the statement travels to JPN.
        let lift = try Signed(
            signing: StatementDocument(
                LifecycleStatement(
                    id: "kor-lift-test", agreement: "gsomia-kor-jpn-2016", party: .kor, at: Date(),
                    act: .suspensionLifted(notice: "kor-notice-2019", effective: nil))), with: Self.keys(net, .kor).signing)
        try await kor.record(lift)
        let queued = try await kor.publish([.lifecycle(lift)], to: [.jpn])
        let acknowledged = try await FederationTests.statementsSettled(net[.kor], queued.map(\.id))
        #expect(acknowledged[0].state == .done, "\(acknowledged[0].lastError ?? "")")
        #expect(try await kor.unacknowledgedStatements().isEmpty)
        let later = Date().addingTimeInterval(1)
        #expect(kor.book["gsomia-kor-jpn-2016"]!.status(at: later).phase == .terminated)
        #expect(jpn.book["gsomia-kor-jpn-2016"]!.status(at: later).phase == .terminated)
        // KOR's node will not release; JPN's node refuses what a sender forces through.
        await #expect(throws: FederationError(.refused, "")) {
            _ = try await kor.release(itemID: sealed[1].manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        }
        try await Task.sleep(nanoseconds: 5_000_000)
        let forced = try BatchReply(
            canonical: try await net[.kor].transport(to: .jpn).sendBatch(try Self.batch(net, items: [sealed[1]], sequences: [601]).derBytes, knownSize: nil))
        let entry = try LedgerEntry(canonical: forced.outcomes[0].entry)
        #expect(entry.kind == .itemRefused)
        #expect(entry.detail.contains("Art 21"), "\(entry.detail)")
        // What JPN already holds stays, protected as before.
        #expect(try await net[.jpn].store.item(sealed[0].manifest.itemID).payload == Array("before 0".utf8))
    }
}
