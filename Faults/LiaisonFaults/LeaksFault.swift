import ArgumentParser
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import Logging

/// Fault 4: every three-node forwarding chain among KOR, JPN and USA
/// (originator, holder, third party) under every agreement the holder and
/// the third party share, with and without the originator's consent (valid,
/// expired, for another party, for another holder, for another item, signed
/// by someone else), directly and through the US hub, and again after the
/// Korea–Japan GSOMIA terminates. Each attempt is made twice: through the
/// holder's node (its release check, its sender, the recipient's check),
/// and as a holder bypassing its own node would make it (a batch sealed
/// with the holder's key, fed to the recipient). What the agreements
/// forbid must never be delivered, and each refusal names its article; what
/// they permit must be delivered.
struct Leaks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every forwarding chain among KOR, JPN and USA, with and without consent: no forbidden delivery, every refusal naming its article.")

    @OptionGroup var common: CommonOptions

    enum ConsentCase: String, CaseIterable {
        case none = "no consent"
        case valid = "the originator's consent"
        case expired = "an expired consent"
        case otherThirdParty = "a consent for another third party"
        case otherHolder = "a consent for another holder"
        case otherItem = "a consent for another item"
        case notTheOriginator = "a consent signed by the holder itself"
    }

    struct Tally {
        var attempts = 0, permitted = 0, permittedDelivered = 0, forbidden = 0, forbiddenDelivered = 0, refusals = 0, refusalsWithArticle = 0
        var problems: [String] = []
    }

    static let citations = ["Art 1", "Art 4", "Art 6(a)", "Art 6(c)", "Art 6(g)", "Art 7", "Art 21", "TISA ¶4"]

    func run() async throws {
        var logger = Logger(label: "liaison-faults", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let parties: [Party] = [.kor, .jpn, .usa]
        let net = try await LocalFederation.start(
            parties: parties, examples: try common.examplesDirectory(), directory: try common.workDirectory("leaks"), logger: logger
        ) { s in s.gossipInterval = 3600 }
        let keys = try parties.reduce(into: [Party: NodeDirectory.Node]()) { $0[$1] = try NodeDirectory(path: net[$1].settings.directory).load() }
        let book = net[.kor].federation.book
        let agreements = book.lifecycles.values.map(\.agreement).sorted { $0.id < $1.id }
        func shared(_ a: Party, _ b: Party) -> [Agreement] { agreements.filter { $0.isParty(a) && $0.isParty(b) } }
        func bilateral(_ a: Party, _ b: Party) -> Agreement { shared(a, b).first { $0.hub == nil }! }
        let level: [Party: String] = [.kor: "III", .jpn: "HI", .usa: "C"]
        var sequences: [String: Int] = [:]
        var tally = Tally()
        let started = Date()

        /// Waits for a queued release to be settled at the sender.
        func settled(_ p: Party, _ id: Int64) async throws -> OutboxTask {
            for _ in 0..<400 {
                let t = try await net[p].store.outboxTask(id)
                if t.state == .done || t.state == .refused { return t }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            throw FaultError("\(p)'s release \(id) was not settled in 20 s")
        }
        func cites(_ text: String) -> Bool { Self.citations.contains { text.contains($0 + ":") } }

        /// One attempt: `holder` passes `item` (originated by `originator`) to `target` under `agreement`.
        func attempt(
            _ item: SealedItem, originator: Party, holder: Party, target: Party, agreement: Agreement, consent: ConsentCase, permitted: Bool, phase: String
        ) async throws {
            let what = "\(phase)\(originator)'s item, \(holder) → \(target) under \(agreement.id), \(consent.rawValue)"
            let digest = item.manifest.digestHex
            func signedConsent() throws -> [Signed<ConsentBody>] {
                let now = Date()
                var c = Consent(
                    id: "\(originator.code.lowercased())-consent-\(UUID().uuidString.prefix(8))", originator: originator, itemDigest: digest, holder: holder,
                    thirdParty: target, purpose: "dprk-nuclear-missile", issuedAt: now, expiresAt: now.addingTimeInterval(86_400))
                var signer = keys[originator]!.signing
                switch consent {
                case .none: return []
                case .valid: break
                case .expired: (c.issuedAt, c.expiresAt) = (now.addingTimeInterval(-7200), now.addingTimeInterval(-3600))
                case .otherThirdParty: c.thirdParty = Party("GBR")!
                case .otherHolder: c.holder = Party("GBR")!
                case .otherItem: c.itemDigest = String(repeating: "ab", count: 32)
                case .notTheOriginator: signer = keys[holder]!.signing
                }
                return [try Signed(signing: ConsentBody(c), with: signer)]
            }
            let consents = try signedConsent()
            // 1. Through the holder's node.
            tally.attempts += 1
            if permitted { tally.permitted += 1 } else { tally.forbidden += 1 }
            var queued: OutboxTask?
            var refusedAtHolder: FederationError?
            do { queued = try await net[holder].federation.release(itemID: item.manifest.itemID, to: target, agreement: agreement.id, consents: consents) } catch {
                refusedAtHolder = error
            }
            if let queued {
                let done = try await settled(holder, queued.id)
                if done.state == .done {
                    if permitted { tally.permittedDelivered += 1 } else {
                        tally.forbiddenDelivered += 1
                        tally.problems.append("DELIVERED (holder's node): \(what)")
                    }
                } else {
                    tally.refusals += 1
                    if cites(done.lastError ?? "") { tally.refusalsWithArticle += 1 } else { tally.problems.append("refusal without an article: \(what): \(done.lastError ?? "")") }
                    if permitted { tally.problems.append("refused although permitted (holder's node, at the recipient): \(what): \(done.lastError ?? "")") }
                }
            } else if let error = refusedAtHolder {
                tally.refusals += 1
                if error.refusal != nil || cites(error.reason) { tally.refusalsWithArticle += 1 } else {
                    tally.problems.append("refusal without an article: \(what): \(error)")
                }
                if permitted { tally.problems.append("refused although permitted (holder's node): \(what): \(error)") }
            }
            // 2. A holder bypassing its own node: sealed with its key, fed to the recipient.
            tally.attempts += 1
            if permitted { tally.permitted += 1 } else { tally.forbidden += 1 }
            let link = "\(holder)-\(target)"
            let sequence = 1_000_000 + sequences[link, default: 0]
            sequences[link, default: 0] += 1
            let batch = try keys[holder]!.signing.sealBatch(
                [Outgoing(item: item, consents: consents)], from: holder, to: target, recipientKey: keys[target]!.identity.encryptionKey, agreement: agreement,
                sequences: [sequence], at: Date())
            var outcome = "refused"
            do {
                let reply = try await net[target].federation.receive(batch.derBytes, from: holder)
                let entry = try LedgerEntry(canonical: reply.outcomes[0].entry)
                outcome = entry.kind == .itemReceived ? "accepted" : entry.detail
            } catch { outcome = "\(error)" }
            if outcome == "accepted" {
                if permitted { tally.permittedDelivered += 1 } else {
                    tally.forbiddenDelivered += 1
                    tally.problems.append("DELIVERED (sealed past the holder's node): \(what)")
                }
            } else {
                tally.refusals += 1
                if cites(outcome) { tally.refusalsWithArticle += 1 } else { tally.problems.append("refusal without an article: \(what): \(outcome)") }
                if permitted { tally.problems.append("refused although permitted (at the recipient): \(what): \(outcome)") }
            }
        }

        /// What the agreements permit (the treaty rules, written here apart from the policy code).
        func permits(originator: Party, holder: Party, target: Party, agreement: Agreement, consent: ConsentCase, inForce: Bool) -> Bool {
            guard inForce else { return false }
            // An agreement carries its own parties' information (a GSOMIA between
            // JPN and USA does not carry KOR's, whatever KOR consents to).
            guard agreement.isParty(originator) else { return false }
            // A hub arrangement (TISA ¶4) carries only the legs of its routes: to the
            // hub (by the originator, or by a holder with the originator's consent
            // for exactly that hop, Art 6(a)), then from the hub on to the route's
            // end with the originator's consent.
            if let hub = agreement.hub {
                return hub.routes.contains { r in
                    r.from == originator
                        && ((target == hub.hub && (holder == originator || consent == .valid))
                            || (holder == hub.hub && target == r.to && consent == .valid))
                }
            }
            // Otherwise the originator's own release, or a holder's with its consent (Art 6(a)).
            return holder == originator || consent == .valid
        }

        var items: [String: SealedItem] = [:]
        for o in parties {
            for h in parties where h != o {
                for t in parties where t != o && t != h {
                    let label = try SecurityLabel(
                        policy: "national:\(o.code)", originator: o, level: level[o]!, releasableTo: Set(parties.filter { $0 != o }), categories: [],
                        purpose: "dprk-nuclear-missile", created: Date())
                    let item = try await net[o].federation.originate([(label, "text/plain", Array("\(o) → \(h) → \(t)".utf8))])[0]
                    items[o.code + h.code + t.code] = item
                    // The originator releases it to the holder (permitted: the setup).
                    let first = try await settled(o, try await net[o].federation.release(itemID: item.manifest.itemID, to: h, agreement: bilateral(o, h).id).id)
                    guard first.state == .done else { throw FaultError("\(o) → \(h) was not delivered: \(first.lastError ?? "")") }
                    for a in shared(h, t) {
                        for c in ConsentCase.allCases {
                            try await attempt(
                                item, originator: o, holder: h, target: t, agreement: a, consent: c,
                                permitted: permits(originator: o, holder: h, target: t, agreement: a, consent: c, inForce: true), phase: "")
                        }
                    }
                    // The originator itself, directly to the third party under every agreement they share.
                    for a in shared(o, t) {
                        try await attempt(
                            item, originator: o, holder: o, target: t, agreement: a, consent: .none,
                            permitted: permits(originator: o, holder: o, target: t, agreement: a, consent: .none, inForce: true), phase: "")
                    }
                }
            }
        }
        // The Korea–Japan GSOMIA terminates (KOR lifts its suspension of the 2019 notice): nothing new moves under it.
        let kj = "gsomia-kor-jpn-2016"
        let lift = try Signed(
            signing: StatementDocument(
                LifecycleStatement(
                    id: "kor-lift-faults", agreement: kj, party: .kor, at: Date(), act: .suspensionLifted(notice: "kor-notice-2019", effective: nil))),
            with: keys[.kor]!.signing)
        try await net[.kor].federation.record(lift)
        try await net[.jpn].federation.record(lift, from: .kor)
        try await Task.sleep(nanoseconds: 10_000_000)
        guard net[.kor].federation.book[kj]!.status(at: Date()).phase == .terminated, net[.jpn].federation.book[kj]!.status(at: Date()).phase == .terminated
        else { throw FaultError("the KOR–JPN GSOMIA did not terminate") }
        let terminated = tally.attempts
        let kjAgreement = book[kj]!.agreement
        for (key, item) in items.sorted(by: { $0.key < $1.key }) {
            let (o, h, t) = (item.manifest.label.originator, Party(String(key.dropFirst(3).prefix(3)))!, Party(String(key.suffix(3)))!)
            // The originator, directly to the other party of the terminated GSOMIA.
            if [.kor, .jpn].contains(o) {
                let other: Party = o == .kor ? .jpn : .kor
                try await attempt(item, originator: o, holder: o, target: other, agreement: kjAgreement, consent: .none, permitted: false, phase: "after termination: ")
            }
            // A holder, with the originator's consent, under the terminated GSOMIA.
            if [.kor, .jpn].contains(h), [.kor, .jpn].contains(t) {
                try await attempt(item, originator: o, holder: h, target: t, agreement: kjAgreement, consent: .valid, permitted: false, phase: "after termination: ")
            }
        }
        let seconds = Date().timeIntervalSince(started)
        for p in tally.problems.prefix(30) { print("  \(p)") }
        print(
            "leaks: \(tally.attempts) attempts (\(tally.attempts - terminated) after the KOR–JPN GSOMIA terminated), each through the holder's node and sealed past it"
        )
        print(
            "result: forbidden \(tally.forbidden), delivered \(tally.forbiddenDelivered); permitted \(tally.permitted), delivered \(tally.permittedDelivered); refusals naming their article \(tally.refusalsWithArticle)/\(tally.refusals); \(String(format: "%.0f", seconds)) s"
        )
        await net.stop()
        guard tally.problems.isEmpty, tally.forbidden > 0, tally.permitted > 0 else { throw ExitCode(1) }
        if common.dir == nil { try? FileManager.default.removeItem(atPath: net.directory) }
    }
}
