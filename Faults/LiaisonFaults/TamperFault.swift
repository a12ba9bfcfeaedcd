import ArgumentParser
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import Logging

/// Fault 3: sample envelopes and statements, each bit flipped in turn
/// (every `stride`-th bit), fed to the node they are addressed to; then the
/// hybrid signatures stripped or swapped. Every variant must be refused and
/// change nothing but the ledger's record of the refusal; the untouched
/// sample, fed last, must be accepted (so the refusals are the flips').
struct Tamper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Flip every bit of sample envelopes and statements, strip and swap their signatures: all refused, nothing changed.")

    @Option(help: "Flip every N-th bit (1: every bit).") var stride = 1
    @OptionGroup var common: CommonOptions

    struct Sample {
        var name: String
        var bytes: [UInt8]
        var receiver: Party
        var sender: Party
        var statements: Bool
    }

    func run() async throws {
        guard stride >= 1 else { throw ValidationError("--stride is at least 1") }
        var logger = Logger(label: "liaison-faults", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let net = try await LocalFederation.start(
            parties: [.kor, .jpn, .usa], examples: try common.examplesDirectory(), directory: try common.workDirectory("tamper"), logger: logger
        ) { s in
            s.gossipInterval = 3600
            // The untouched samples are fed after every flip: a long run must not age them out.
            s.federation.replayWindow = 86_400
        }
        let keys = try [Party.kor, .jpn, .usa].reduce(into: [Party: NodeDirectory.Node]()) { $0[$1] = try NodeDirectory(path: net[$1].settings.directory).load() }
        let book = net[.kor].federation.book
        let kj = "gsomia-kor-jpn-2016"
        func agreement(_ id: String) throws -> Agreement {
            guard let a = book[id]?.agreement else { throw FaultError("no agreement \(id)") }
            return a
        }
        func batch(_ items: [SealedItem], consents: [Signed<ConsentBody>] = [], from: Party, to: Party, under: String, sequence: Int) throws -> EnvelopeBatch {
            try keys[from]!.signing.sealBatch(
                items.map { Outgoing(item: $0, consents: consents) }, from: from, to: to, recipientKey: keys[to]!.identity.encryptionKey,
                agreement: try agreement(under), sequences: [sequence], at: Date())
        }
        // KOR's item for JPN: label, header, origin seal.
        let korLabel = try SecurityLabel(
            policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.jpn],
            categories: [Category(tag: "PROJECT", kind: .restrictive, values: ["EAST-SEA"])], purpose: "dprk-nuclear-missile", created: Date())
        let korItems = try await net[.kor].federation.originate([(korLabel, "text/plain", Array("Tampering sample: KOR to JPN.".utf8))])
        let toJPN = try batch(korItems, from: .kor, to: .jpn, under: kj, sequence: 1)
        // JPN's item passed on by KOR to the US hub with JPN's consent (TISA): the consent travels in the envelope.
        let jpnLabel = try SecurityLabel(
            policy: "national:JPN", originator: .jpn, level: "HI", releasableTo: [.kor, .usa],
            categories: [Category(tag: "Compartment", kind: .restrictive, values: ["MISSILE"])], purpose: "dprk-nuclear-missile", created: Date())
        let jpnItem = try await net[.jpn].federation.originate([(jpnLabel, "text/plain", Array("Tampering sample: JPN's, through the hub.".utf8))])[0]
        let consent = try Signed(
            signing: ConsentBody(
                Consent(
                    id: "jpn-consent-tamper", originator: .jpn, itemDigest: jpnItem.manifest.digestHex, holder: .kor, thirdParty: .usa,
                    purpose: "dprk-nuclear-missile", issuedAt: Date(), expiresAt: Date().addingTimeInterval(7 * 86_400))), with: keys[.jpn]!.signing)
        let toUSA = try batch([jpnItem], consents: [consent], from: .kor, to: .usa, under: "tisa-2014", sequence: 1)
        // Statements: JPN's consent to KOR, KOR's compromise report to JPN, KOR's termination notice to USA.
        let report = try Signed(
            signing: CompromiseReport(
                id: "kor-incident-tamper", reporter: .kor, originator: .jpn, itemDigests: [jpnItem.manifest.digest], stage: .suspected, at: Date(),
                description: "Tampering sample: a suspected compromise."), with: keys[.kor]!.signing)
        let notice = try Signed(
            signing: StatementDocument(
                LifecycleStatement(id: "kor-notice-tamper", agreement: "gsomia-kor-usa-1987", party: .kor, at: Date(), act: .terminationNotice(effective: nil))),
            with: keys[.kor]!.signing)
        var samples = [
            Sample(name: "envelope KOR → JPN (label, header, origin seal)", bytes: toJPN.derBytes, receiver: .jpn, sender: .kor, statements: false),
            Sample(name: "envelope KOR → USA with JPN's consent (hub route)", bytes: toUSA.derBytes, receiver: .usa, sender: .kor, statements: false),
            Sample(
                name: "consent JPN → KOR", bytes: StatementBundle(from: .jpn, statements: [.consent(consent)]).derBytes, receiver: .kor, sender: .jpn,
                statements: true),
            Sample(
                name: "compromise report KOR → JPN", bytes: StatementBundle(from: .kor, statements: [.compromiseReport(report)]).derBytes, receiver: .jpn,
                sender: .kor, statements: true),
            Sample(
                name: "termination notice KOR → USA", bytes: StatementBundle(from: .kor, statements: [.lifecycle(notice)]).derBytes, receiver: .usa,
                sender: .kor, statements: true),
        ]
        // The hybrid signatures, stripped or swapped with another's (same signer).
        let otherItems = try await net[.kor].federation.originate([(korLabel, "text/plain", Array("Another message.".utf8))])
        let other = try batch(otherItems, from: .kor, to: .jpn, under: kj, sequence: 2)
        func variants(_ s: Signature, _ o: Signature) -> [(String, Signature)] {
            [
                ("Ed25519 only", Signature(keyID: s.keyID, suite: s.suite, parts: [s.parts[0]])),
                ("ML-DSA-65 only", Signature(keyID: s.keyID, suite: s.suite, parts: [s.parts[1]])),
                ("the parts in the other order", Signature(keyID: s.keyID, suite: s.suite, parts: [s.parts[1], s.parts[0]])),
                ("another message's Ed25519", Signature(keyID: s.keyID, suite: s.suite, parts: [o.parts[0], s.parts[1]])),
                ("another message's ML-DSA-65", Signature(keyID: s.keyID, suite: s.suite, parts: [s.parts[0], o.parts[1]])),
                ("the Ed25519 part zeroed", Signature(keyID: s.keyID, suite: s.suite, parts: [[UInt8](repeating: 0, count: s.parts[0].count), s.parts[1]])),
                ("the classic suite claimed", Signature(keyID: s.keyID, suite: .classic, parts: [Array(s.parts[0] + s.parts[0].prefix(32))])),
            ]
        }
        var signatureCases: [Sample] = []
        for (what, sig) in variants(toJPN.header.signature, other.header.signature) {
            var w = DERWriter()
            try w.sequence { s in
                s.integer(protocolVersion)
                try Signed(body: toJPN.header.body, signature: sig).encode(into: &s)
                try s.sequence { rs in for r in toJPN.originRoots { try r.encode(into: &rs) } }
                try s.sequence { es in for e in toJPN.envelopes { try e.encode(into: &es) } }
            }
            signatureCases.append(Sample(name: "batch signature: \(what)", bytes: w.bytes, receiver: .jpn, sender: .kor, statements: false))
        }
        // The origin seal's signature altered inside an item KOR seals properly into a
        // batch (each on its own link number): the envelope names the altered root,
        // the batch carries it, and the originator's signature check must refuse it.
        var sequence = 100
        for (what, sig) in variants(korItems[0].seal.root.signature, otherItems[0].seal.root.signature) {
            var item = korItems[0]
            item.seal.root.signature = sig
            sequence += 1
            signatureCases.append(
                Sample(
                    name: "origin seal: \(what)", bytes: try batch([item], from: .kor, to: .jpn, under: kj, sequence: sequence).derBytes, receiver: .jpn,
                    sender: .kor, statements: false))
        }
        let otherConsent = try Signed(
            signing: ConsentBody(
                Consent(
                    id: "jpn-consent-other", originator: .jpn, itemDigest: jpnItem.manifest.digestHex, holder: .kor, thirdParty: .usa, purpose: nil,
                    issuedAt: Date(), expiresAt: Date().addingTimeInterval(86_400))), with: keys[.jpn]!.signing)
        for (what, sig) in variants(consent.signature, otherConsent.signature) {
            // A holder forwarding a consent whose signature was altered, in a batch it sealed properly.
            let forged = Signed(body: consent.body, signature: sig)
            sequence += 1
            signatureCases.append(
                Sample(
                    name: "consent in an envelope: \(what)",
                    bytes: try batch([jpnItem], consents: [forged], from: .kor, to: .usa, under: "tisa-2014", sequence: sequence).derBytes,
                    receiver: .usa, sender: .kor, statements: false))
            signatureCases.append(
                Sample(
                    name: "consent statement: \(what)", bytes: StatementBundle(from: .jpn, statements: [.consent(forged)]).derBytes, receiver: .kor, sender: .jpn,
                    statements: true))
        }
        for (what, sig) in variants(notice.signature, report.signature) {
            signatureCases.append(
                Sample(
                    name: "lifecycle statement: \(what)", bytes: StatementBundle(from: .kor, statements: [.lifecycle(Signed(body: notice.body, signature: sig))]).derBytes,
                    receiver: .usa, sender: .kor, statements: true))
        }

        print("tamper: \(samples.count) samples, every \(stride == 1 ? "" : "\(stride)-th ")bit flipped; \(signatureCases.count) signature variants")
        let before = try await Snapshot.take(net)
        let started = Date()
        var total = 0, accepted = 0, failures: [String] = []
        for sample in samples {
            var n = 0, ok = 0
            var bit = 0
            while bit < sample.bytes.count * 8 {
                var bytes = sample.bytes
                bytes[bit / 8] ^= UInt8(1 << (7 - bit % 8))
                if try await Self.feed(net, bytes, sample) { failures.append("\(sample.name): bit \(bit) flipped was accepted") } else { ok += 1 }
                n += 1
                bit += stride
            }
            total += n
            accepted += n - ok
            print("  \(sample.name): \(sample.bytes.count) bytes, \(n) flips, \(ok) refused")
        }
        var signatureRefused = 0
        for c in signatureCases {
            if try await Self.feed(net, c.bytes, c) { failures.append("\(c.name) was accepted") } else { signatureRefused += 1 }
        }
        print("  signatures stripped or swapped: \(signatureCases.count) variants, \(signatureRefused) refused")
        let after = try await Snapshot.take(net)
        let changes = try await after.changes(since: before)
        // Last, the untouched samples: each accepted, so the refusals were the flips'.
        samples.reverse()
        var untouched = 0
        for s in samples {
            if try await Self.feed(net, s.bytes, s) { untouched += 1 } else {
                print("  the untouched \(s.name) was refused: \(try await Self.refusal(net, s.bytes, s))")
            }
        }
        let seconds = Date().timeIntervalSince(started)
        for f in failures.prefix(20) { print("  ACCEPTED: \(f)") }
        for c in changes.prefix(20) { print("  CHANGED: \(c)") }
        print(
            "result: \(total + signatureCases.count) tampered inputs, \(total + signatureCases.count - accepted - (signatureCases.count - signatureRefused)) refused (\(accepted + signatureCases.count - signatureRefused) accepted), state changes \(changes.count); untouched samples accepted \(untouched)/\(samples.count); \(String(format: "%.0f", seconds)) s"
        )
        await net.stop()
        guard failures.isEmpty, changes.isEmpty, untouched == samples.count else { throw ExitCode(1) }
        if common.dir == nil { try? FileManager.default.removeItem(atPath: net.directory) }
    }

    /// Feeds bytes to the receiver as its peer's; true if anything was accepted.
    static func feed(_ net: LocalFederation, _ bytes: [UInt8], _ s: Sample) async throws -> Bool {
        let federation = net[s.receiver].federation
        let reply: BatchReply
        do {
            reply = s.statements ? try await federation.receiveStatements(bytes, from: s.sender) : try await federation.receive(bytes, from: s.sender)
        } catch where error.code == .unavailable {
            throw FaultError("\(s.receiver)'s store failed: \(error)")
        } catch {
            return false
        }
        return try reply.outcomes.contains { try LedgerEntry(canonical: $0.entry).kind != .itemRefused }
    }

    /// Why the receiver refuses the bytes.
    static func refusal(_ net: LocalFederation, _ bytes: [UInt8], _ s: Sample) async throws -> String {
        let federation = net[s.receiver].federation
        do {
            let reply = s.statements ? try await federation.receiveStatements(bytes, from: s.sender) : try await federation.receive(bytes, from: s.sender)
            return try reply.outcomes.map { try LedgerEntry(canonical: $0.entry).detail }.joined(separator: "; ")
        } catch {
            return "\(error)"
        }
    }

    /// What a node holds that tampering must not change: items, statements,
    /// the agreements' state, queues; and the kinds of its ledger entries.
    struct Snapshot {
        var nodes: [Party: (holdings: Int, statements: Int, accepted: Int, outbox: Int, inbox: Int, ledger: Int)] = [:]
        var ledgers: [Party: any NodeStore] = [:]

        static func take(_ net: LocalFederation) async throws -> Snapshot {
            var s = Snapshot()
            for p in [Party.kor, .jpn, .usa] {
                let store = net[p].store
                var holdings = 0
                var cursor: Int64?
                while true {
                    let page = try await store.holdings(after: cursor, limit: 1000)
                    guard let last = page.last else { break }
                    holdings += page.count
                    cursor = last.sequence
                }
                var statements = 0, accepted = 0
                for (id, lifecycle) in net[p].federation.book.lifecycles {
                    statements += try await store.statements(agreement: id).count
                    accepted += lifecycle.accepted.count
                }
                let outbox = try await store.outboxTasks(itemID: nil, before: nil, limit: 1000).count
                // The samples' link sequences from every peer: a kept refusal would be a record here.
                var inbox = 0
                for q in [Party.kor, .jpn, .usa] where q != p {
                    // A refusal kept for retries (a bad consent under a good batch signature) records the refusal, not the item.
                    inbox += try await store.inboundState(peer: q, sequences: Array(1...200), itemIDs: []).records.values.filter { $0.state != .refused }.count
                }
                s.nodes[p] = (holdings, statements, accepted, outbox, inbox, try await store.size())
                s.ledgers[p] = store
            }
            return s
        }

        /// Every difference, and every ledger entry since `before` that is not a refusal.
        func changes(since before: Snapshot) async throws -> [String] {
            var out: [String] = []
            for p in [Party.kor, .jpn, .usa] {
                let a = before.nodes[p]!, b = nodes[p]!
                if a.holdings != b.holdings { out.append("\(p) holds \(b.holdings) items, \(a.holdings) before") }
                if a.statements != b.statements || a.accepted != b.accepted { out.append("\(p)'s agreements changed") }
                if a.outbox != b.outbox { out.append("\(p)'s outbox changed") }
                if a.inbox != b.inbox { out.append("\(p) recorded \(b.inbox - a.inbox) inbound envelope(s) as accepted") }
                for i in a.ledger..<b.ledger {
                    let e = try await ledgers[p]!.entry(at: i)
                    if e.kind != .itemRefused { out.append("\(p) ledger entry \(i): \(e.kind) \(e.detail)") }
                }
            }
            return out
        }
    }
}
