internal import Foundation
internal import LiaisonFederation
internal import LiaisonHTTP
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
public import Logging

/// `liaison demo`: starts KOR, JPN and USA nodes on loopback, each with
/// fresh keys, its own embedded store and the agreements of `Examples/`
/// pinned to those keys, and plays the story over mutual TLS. Every line
/// is what a node did or refused, with the article; every expectation is
/// checked, and the exit status says whether all were met.
public final class Demo: @unchecked Sendable {
    let examples: String
    let directory: String?
    let emit: @Sendable (String) -> Void
    let logger: Logger
    private var failures: [String] = []
    private var checks = 0

    public init(examples: String, directory: String? = nil, logger: Logger, emit: @escaping @Sendable (String) -> Void) {
        (self.examples, self.directory, self.logger, self.emit) = (examples, directory, logger, emit)
    }

    func heading(_ s: String) { emit("\n== \(s)") }
    func line(_ s: String) { emit("   \(s)") }

    /// Prints an outcome and checks it against what the agreements require.
    func expect(_ what: String, permitted: Bool, _ outcome: Decision) {
        checks += 1
        let text: String
        switch outcome {
        case .permitted: text = "✔ \(what)"
        case .refused(let r): text = "✘ \(what): refused — \(r.article): \(r.reason)"
        }
        if outcome.isPermitted == permitted {
            line(text)
        } else {
            line(text + "   ← UNEXPECTED: the agreements \(permitted ? "permit" : "forbid") this")
            failures.append(what)
        }
    }

    func check(_ what: String, _ ok: Bool, _ detail: String = "") {
        checks += 1
        if ok {
            line("✔ \(what)\(detail.isEmpty ? "" : ": \(detail)")")
        } else {
            line("✘ \(what)\(detail.isEmpty ? "" : ": \(detail)")   ← UNEXPECTED")
            failures.append(what)
        }
    }

    static func decision(_ error: any Error) -> Decision {
        if let e = error as? FederationError {
            return .refused(e.refusal ?? Refusal(.init(e.code.name), Article("node"), e.reason))
        }
        return .refused(Refusal(.init("error"), Article("node"), "\(error)"))
    }

    /// Runs the story; returns whether every expectation was met. With
    /// `keepRunning`, the nodes stay up (until the process is stopped).
    public func run(keepRunning: Bool = false) async -> Bool {
        emit("Liaison — three national nodes on this machine, exchanging under the Korea–Japan–US agreements over mutual TLS 1.3.")
        let net: LocalFederation
        do {
            net = try await LocalFederation.start(parties: [.kor, .jpn, .usa], examples: examples, directory: directory, logger: logger)
        } catch {
            emit("the nodes did not start: \(error)")
            return false
        }
        do {
            try await story(net)
        } catch {
            line("✘ the story stopped: \(error)")
            failures.append("the story ran to its end")
        }
        if failures.isEmpty {
            emit("\nAll \(checks) expectations met.")
        } else {
            emit("\n\(failures.count) of \(checks) expectations failed: \(failures.joined(separator: "; "))")
        }
        if keepRunning {
            emit("\nThe nodes keep running (stop with Ctrl-C):")
            for p in [Party.kor, .jpn, .usa] { emit("   \(p) \(await net.address(of: p))   data: \(net[p].settings.directory)") }
            await openConsoles(net)
            while !Task.isCancelled { try? await Task.sleep(nanoseconds: 3_600_000_000_000) }
        }
        await net.stop()
        return failures.isEmpty
    }

    /// Gives each node's web console users to log in with, and prints
    /// where they are: `analyst` (cleared to the second level, with the
    /// story's categories), `reader` (the lowest level, no categories: it
    /// meets refusals), `officer` (releasing and security officer, the top
    /// level) and `admin`. The password is LIAISON_DEMO_PASSWORD, or a new
    /// random one printed here.
    func openConsoles(_ net: LocalFederation) async {
        let password =
            ProcessInfo.processInfo.environment["LIAISON_DEMO_PASSWORD"].flatMap { $0.count >= 12 ? $0 : nil }
            ?? String((0..<16).map { _ in "abcdefghijkmnopqrstuvwxyz23456789".randomElement()! })
        emit("\nWeb consoles (HTTPS; each node's certificate is issued by its own root, DIR/tls-root-ca.pem):")
        let year = Date().addingTimeInterval(365 * 86_400)
        let categories: Set<String> = ["Compartment:MISSILE", "PROJECT:EAST-SEA"]
        for p in [Party.kor, .jpn, .usa] {
            let accounts = net[p].accounts
            let levels = accounts.scheme.levels.sorted { $0.rank > $1.rank }
            let users: [(String, Accounts.Profile)] = [
                ("analyst", .init(displayName: "\(p) analyst", roles: [.analyst], clearance: (levels[min(1, levels.count - 1)].code, year), categories: categories)),
                ("reader", .init(displayName: "\(p) reader", roles: [.analyst], clearance: (levels[levels.count - 1].code, year), categories: [])),
                (
                    "officer",
                    .init(displayName: "\(p) officer", roles: [.releasingOfficer, .securityOfficer, .auditor], clearance: (levels[0].code, year), categories: categories)
                ),
                ("admin", .init(displayName: "\(p) administrator", roles: [.administrator], clearance: nil, categories: [])),
            ]
            for (name, profile) in users { _ = try? await accounts.add(name, profile, password: password, by: "liaison demo") }
            emit("   \(p) https://127.0.0.1:\(await net[p].consolePort())/   root: \(net[p].settings.directory)/tls-root-ca.pem")
        }
        emit("   users analyst, reader, officer, admin — password \(password)")
    }

    // swiftlint:disable:next function_body_length
    func story(_ net: LocalFederation) async throws {
        let kor = net[.kor].federation, jpn = net[.jpn].federation, usa = net[.usa].federation
        let keys = try [Party.kor, .jpn, .usa].reduce(into: [Party: SigningKey]()) { $0[$1] = try NodeDirectory(path: net[$1].settings.directory).load().signing }
        for p in [Party.kor, .jpn, .usa] { line("\(p) node: \(await net.address(of: p)), data in \(net[p].settings.directory)") }
        line("agreements pinned to the nodes' keys: \(net.directory)/agreements")
        let kj = "gsomia-kor-jpn-2016"

        heading("The Korea–Japan GSOMIA today: the 2019 notice and its suspension")
        let status = StatusReport(lifecycle: kor.book[kj]!, at: Date())
        line("\(kj): \(StatusReport.phaseText[status.phase] ?? status.phase) — because \(status.cause.description)")
        let today = Date()
        check("KOR's and JPN's nodes compute the same state", kor.book[kj]!.status(at: today) == jpn.book[kj]!.status(at: today), "exchange continues")

        heading("JPN shares a 秘 (CONFIDENTIAL) assessment with KOR")
        let missile = Category(tag: "Compartment", kind: .restrictive, values: ["MISSILE"])
        let label = try SecurityLabel(
            policy: "national:JPN", originator: .jpn, level: "HI", releasableTo: [.kor, .usa], categories: [missile],
            purpose: "dprk-nuclear-missile", created: Date())
        let sealed = try await jpn.originate([(label, "text/plain", Array("Assessment: launch detected at 06:42, trajectory east.".utf8))])[0]
        let id = sealed.manifest.itemID
        line("JPN seals it: item \(Hex.encode(id).prefix(12))…, digest \(sealed.manifest.digestHex.prefix(16))… (Ed25519 + ML-DSA-65)")
        let toKOR = try await jpn.release(itemID: id, to: .kor, agreement: kj)
        let delivered = try await Self.settled(net[.jpn].store, toKOR.id)
        let provenKOR = try await receiptVerifies(net, from: .jpn, delivered)
        check("delivered to KOR, proven by KOR's signed receipt", delivered.state == .done && provenKOR, delivered.lastError ?? "")
        let atKOR = try await net[.kor].store.item(id)
        if case .success(let m) = DualMarking.make(agreement: kor.book[kj]!.agreement, originator: .jpn, level: "HI", receiver: .kor) {
            check("KOR marks it beside JPN's marking (Art 4)", atKOR.holding.label.level == "HI", "\(m)")
        }

        heading("Who at KOR may read it (Art 7: clearance and need-to-know)")
        let need = CategoryValue(tag: "Compartment", value: "MISSILE")
        let kim = Reader(name: "analyst Kim (PSC 군사II급, no MISSILE)", party: .kor, clearance: "II")
        let lee = Reader(name: "analyst Lee (PSC 군사II급, MISSILE)", party: .kor, clearance: "II", categories: [need])
        expect(kim.name, permitted: false, try await kor.read(id, by: kim).decision)
        let read = try await kor.read(id, by: lee)
        expect("\(lee.name) reads “\(String(decoding: read.item?.payload ?? [], as: UTF8.self).prefix(30))…”", permitted: true, read.decision)

        heading("KOR passes JPN's item on to the US hub (Art 6(a): the originator's prior written approval)")
        do {
            _ = try await kor.release(itemID: id, to: .usa, agreement: "tisa-2014")
            expect("KOR → USA without JPN's consent", permitted: false, .permitted)
        } catch { expect("KOR → USA without JPN's consent", permitted: false, Self.decision(error)) }
        let consent = try Signed(
            signing: ConsentBody(
                Consent(
                    id: "jpn-consent-\(Hex.encode(id).prefix(8))", originator: .jpn, itemDigest: sealed.manifest.digestHex, holder: .kor, thirdParty: .usa,
                    purpose: "dprk-nuclear-missile", issuedAt: Date(), expiresAt: Date().addingTimeInterval(7 * 86_400))), with: keys[.jpn]!)
        let given = try await jpn.publish([.consent(consent)], to: [.kor])
        check("JPN signs its consent; KOR's node records it", try await Self.statementSettled(net[.jpn].store, given[0].id).state == .done)
        let toUSA = try await kor.release(itemID: id, to: .usa, agreement: "tisa-2014", consents: [consent])
        let hop = try await Self.settled(net[.kor].store, toUSA.id)
        check("KOR → USA with JPN's consent: USA checked JPN's seal and consent itself", hop.state == .done, hop.lastError ?? "delivered, receipt proven")
        let atUSA = try await net[.usa].store.item(id)
        check("USA holds it, marked under TISA", atUSA.holding.source == .received(from: .kor, agreement: "tisa-2014"))

        heading("JPN reclassifies its assessment 秘 → 極秘 (Art 6(g)); every holder re-marks and acknowledges")
        let notice = try Signed(
            signing: ReclassificationNotice(
                id: "jpn-reclass-\(Hex.encode(id).prefix(8))", originator: .jpn, itemDigest: sealed.manifest.digest, oldLevel: "HI", newLevel: "GOKUHI",
                at: Date(), reason: "new source corroborates"), with: keys[.jpn]!)
        let notices = try await jpn.publish([.reclassification(notice, itemID: id)], to: [.kor, .usa])
        for t in notices { _ = try await Self.statementSettled(net[.jpn].store, t.id) }
        for (p, agreement) in [(Party.kor, kj), (.usa, "tisa-2014")] {
            let level = try await net[p].store.item(id).holding.label.level
            let marking = (try? DualMarking.make(agreement: kor.book[agreement]!.agreement, originator: .jpn, level: level, receiver: p).get())
                .map { "\($0.originatorLevel.marking) ⇄ \($0.receiverLevel.marking)" } ?? level
            check("\(p) re-marked it", level == "GOKUHI", marking)
        }
        let overdue = try await jpn.unacknowledgedStatements()
        check("no holder's acknowledgement is overdue", overdue.isEmpty, "\(overdue.count) waiting")

        heading("USA reports the loss of its copy (Art 17: immediate notice to the originator)")
        let report = try Signed(
            signing: CompromiseReport(
                id: "usa-incident-1", reporter: .usa, originator: .jpn, itemDigests: [sealed.manifest.digest], stage: .suspected, at: Date(),
                description: "removable media unaccounted for"), with: keys[.usa]!)
        let reported = try await usa.reportCompromise(report, itemID: id)
        let reportState = try await Self.statementSettled(net[.usa].store, reported[0].id).state
        let recorded = try await ledger(net[.jpn].store).contains { $0.kind == .compromiseReported && $0.detail.contains("usa-incident-1") }
        check("JPN's node records the report", reportState == .done && recorded)
        check("USA's copy is marked compromised", try await net[.usa].store.item(id).holding.status == .compromised)

        heading("KOR lifts the suspension (“terminable at any time”): the GSOMIA terminates")
        let lift = try Signed(
            signing: StatementDocument(
                LifecycleStatement(
                    id: "kor-lift-\(Int(Date().timeIntervalSince1970))", agreement: kj, party: .kor, at: Date(),
                    act: .suspensionLifted(notice: "kor-notice-2019", effective: nil))), with: keys[.kor]!)
        try await kor.record(lift)
        let sentLift = try await kor.publish([.lifecycle(lift)], to: [.jpn])
        check("JPN's node records KOR's statement", try await Self.statementSettled(net[.kor].store, sentLift[0].id).state == .done)
        try await Task.sleep(nanoseconds: 10_000_000)
        let now = Date()
        check(
            "both nodes compute: terminated", kor.book[kj]!.status(at: now).phase == .terminated && jpn.book[kj]!.status(at: now).phase == .terminated)
        let later = try await jpn.originate([(label, "text/plain", Array("A later assessment.".utf8))])[0]
        do {
            _ = try await jpn.release(itemID: later.manifest.itemID, to: .kor, agreement: kj)
            expect("JPN's next send, at JPN's node", permitted: false, .permitted)
        } catch { expect("JPN's next send, at JPN's node", permitted: false, Self.decision(error)) }
        // Forced through anyway (a sender that skips its own check): KOR's node refuses it.
        let forced = try keys[.jpn]!.sealBatch(
            [Outgoing(item: later)], from: .jpn, to: .kor, recipientKey: try NodeDirectory(path: net[.kor].settings.directory).load().identity.encryptionKey,
            agreement: jpn.book[kj]!.agreement, sequences: [1_000_000], at: Date())
        let reply = try BatchReply(canonical: try await net[.jpn].transport(to: .kor).sendBatch(forced.derBytes, knownSize: nil))
        let entry = try LedgerEntry(canonical: reply.outcomes[0].entry)
        let reason = entry.detail.components(separatedBy: "refused: ").dropFirst().joined(separator: "refused: ")
        let article = reason.components(separatedBy: ": ").first ?? ""
        expect(
            "the same envelope forced through, at KOR's node", permitted: false,
            entry.kind == .itemReceived
                ? .permitted : .refused(Refusal(.notInForce, Article(article), String(reason.dropFirst(article.count + 2)))))
        let after = try await kor.read(id, by: lee)
        expect("what KOR already holds stays protected: \(lee.name) still reads it", permitted: true, after.decision)
        expect("…and \(kim.name) still may not", permitted: false, try await kor.read(id, by: kim).decision)

        heading("Every ledger and every receipt")
        for p in [Party.kor, .jpn, .usa] {
            let v = try await net[p].store.verify(trust: net[p].ledgerTrust)
            check("\(p)'s ledger re-derived from its entries", v.isIntact, "\(v.size) entries, \(v.treeHeads) signed heads\(v.problems.isEmpty ? "" : ", " + v.problems.joined(separator: "; "))")
        }
        var receipts = 0, good = 0
        for (sender, task) in [(Party.jpn, toKOR), (.kor, toUSA)] {
            let t = try await net[sender].store.outboxTask(task.id)
            receipts += 1
            if try await receiptVerifies(net, from: sender, t) { good += 1 }
        }
        check("every delivery receipt verifies against the receiver's pinned key", good == receipts, "\(good) of \(receipts)")
    }

    func ledger(_ store: any NodeStore) async throws -> [LedgerEntry] {
        var out: [LedgerEntry] = []
        for i in 0..<(try await store.size()) { out.append(try await store.entry(at: i)) }
        return out
    }

    func receiptVerifies(_ net: LocalFederation, from sender: Party, _ task: OutboxTask) async throws -> Bool {
        guard let bytes = task.receipt, let proof = try? ReceiptProof(canonical: bytes),
            let head = try await net[sender].store.peerTreeHead(task.peer, size: proof.treeSize).flatMap({ try? SignedTreeHead(canonical: $0) })
        else { return false }
        return (try? proof.receipt(treeHead: head).verify(trust: net[task.peer].ledgerTrust)) != nil
    }

    static func settled(_ store: any NodeStore, _ id: Int64) async throws -> OutboxTask {
        let deadline = Date().addingTimeInterval(30)
        while true {
            let t = try await store.outboxTask(id)
            if t.state == .done || t.state == .refused || Date() > deadline { return t }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
    }

    static func statementSettled(_ store: any NodeStore, _ id: Int64) async throws -> StatementTask {
        let deadline = Date().addingTimeInterval(30)
        while true {
            let t = try await store.statementTask(id)
            if t.state == .done || t.state == .refused || Date() > deadline { return t }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
    }
}
