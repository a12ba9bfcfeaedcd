internal import Foundation
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import LiaisonStoreSQLite

/// `liaison demo --history`: replays the 2014–2019 story of the Korea–Japan–US
/// agreements through the domain model, printing each decision with the
/// article behind it. Every line is computed, none is scripted.
public struct HistoryDemo {
    let set: ExampleSet
    let emit: (String) -> Void
    /// Where JPN's node keeps the item it receives (default: a new
    /// temporary directory).
    let dataDirectory: String?

    public init(examples: ExampleSet, dataDirectory: String? = nil, emit: @escaping (String) -> Void) {
        self.set = examples
        self.dataDirectory = dataDirectory
        self.emit = emit
    }

    static func at(_ s: String) -> Date { RFC3339.parse(s)! }

    func heading(_ s: String) { emit("\n== \(s)") }
    func line(_ s: String) { emit("   \(s)") }
    func decision(_ what: String, _ d: Decision) {
        switch d {
        case .permitted: line("✔ \(what): permitted")
        case .refused(let r): line("✘ \(what): refused — \(r.article): \(r.reason)")
        }
    }

    func label(
        originator: Party, level: String, releasableTo: Set<Party>, purpose: String? = nil,
        categories: [Category] = [], created: String
    ) -> ItemFacts {
        let l = try! SecurityLabel(
            policy: "national:\(originator)", originator: originator, level: level, releasableTo: releasableTo,
            categories: categories, purpose: purpose, created: Self.at(created))
        // The digest stands for the payload digest the origin seal binds.
        return ItemFacts(digest: String(repeating: "ab", count: 32), label: l)
    }

    // swiftlint:disable:next function_body_length
    public func run() async {
        let book = set.book()
        let kj = set.agreements["gsomia-kor-jpn-2016"]!
        let tisa = set.agreements["tisa-2014"]!
        let kjLife = book["gsomia-kor-jpn-2016"]!
        func status(_ life: AgreementLifecycle, _ t: String) {
            let s = StatusReport(lifecycle: life, at: Self.at(t))
            line("\(s.agreement) at \(s.at): \(StatusReport.phaseText[s.phase] ?? s.phase)")
            line("  because \(s.cause.description)")
            if let n = s.notice, s.suspension == nil {
                line("  notice \(n.statement) by \(n.party) takes effect \(n.effective)")
            }
            if let x = s.suspension { line("  the suspended notice would have taken effect \(x.originalEffective)") }
            if let d = s.nextNoticeDeadline, let a = s.nextAnniversary {
                line("  renews \(a) unless notice is given before \(d)")
            }
        }

        emit("Liaison — the agreement as code. Replaying the Korea–Japan–US story through the model.")
        emit("Agreements loaded from \(set.directory)/agreements:")
        for id in ExampleSet.agreementIDs {
            let a = set.agreements[id]!
            emit("   \(id): \(a.partyCodes.map(\.code).joined(separator: "–")), \(a.binding ? "binding" : "not binding")\(a.hub.map { ", hub \($0.hub)" } ?? "")")
        }

        heading("23 Nov 2016 — Korea and Japan sign the GSOMIA in Seoul (Art 4 equivalence)")
        status(kjLife, "2016-11-23T12:00:00+09:00")
        for row in kj.equivalence.rows {
            let k = row.levels[.kor]!.compactMap { kj.scheme(of: .kor)!.level($0)?.marking }
            let j = row.levels[.jpn]!.compactMap { kj.scheme(of: .jpn)!.level($0)?.marking }
            line("\(row.tier): \(k.joined(separator: " / ")) ⇄ \(j.joined(separator: " / "))")
        }
        switch DualMarking.make(agreement: kj, originator: .kor, level: "I", receiver: .jpn) {
        case .success(let m): line("TOP SECRET marks as \(m)")
        case .failure(let r): line("TOP SECRET: \(r)")
        }

        heading("6 Sep 2017 — Korea shares a SECRET assessment of a missile launch with Japan")
        let compartment = Category(tag: "Compartment", kind: .restrictive, values: ["MISSILE"])
        let item = label(
            originator: .kor, level: "II", releasableTo: [.jpn, .usa], purpose: "dprk-nuclear-missile",
            categories: [compartment], created: "2017-09-06T09:00:00+09:00")
        let t2017 = Self.at("2017-09-06T10:00:00+09:00")
        decision(
            "KOR → JPN under gsomia-kor-jpn-2016",
            ReleasePolicy.evaluate(.init(item: item, holder: .kor, recipient: .jpn, agreement: kj.id, instant: t2017), book: book))
        if case .success(let m) = DualMarking.make(agreement: kj, originator: .kor, level: "II", receiver: .jpn) {
            line("Japan marks it (Art 4): \(m)")
        }
        let topSecret = label(originator: .kor, level: "I", releasableTo: [.jpn], created: "2017-09-06T09:00:00+09:00")
        decision(
            "KOR → JPN, a TOP SECRET annex",
            ReleasePolicy.evaluate(.init(item: topSecret, holder: .kor, recipient: .jpn, agreement: kj.id, instant: t2017), book: book))

        heading("Who in Japan may read it (Art 7: clearance and need-to-know; rank never suffices)")
        let jpnScheme = kj.scheme(of: .jpn)!
        let need = CategoryValue(tag: "Compartment", value: "MISSILE")
        let readers = [
            Reader(name: "Sato (PSC 極秘, MISSILE)", party: .jpn, clearance: "GOKUHI", categories: [need]),
            Reader(name: "Suzuki (PSC 秘, MISSILE)", party: .jpn, clearance: "HI", categories: [need]),
            Reader(name: "Tanaka (PSC 機密, no MISSILE)", party: .jpn, clearance: "KIMITSU"),
            Reader(name: "Gen. Yamada (administrator, PSC 秘)", party: .jpn, clearance: "HI", roles: [.administrator]),
        ]
        for r in readers {
            decision(
                r.name,
                AccessPolicy.evaluate(.init(reader: r, item: item, node: .jpn, localScheme: jpnScheme, agreement: kj, instant: t2017)))
        }
        decision(
            "JPN passes it on to USA without asking Korea",
            ReleasePolicy.evaluate(
                .init(item: item, holder: .jpn, recipient: .usa, agreement: "gsomia-jpn-usa-2007", instant: t2017), book: book))

        heading("23 Aug 2019 — Korea gives written notice not to renew (Art 21)")
        status(kjLife, "2019-08-01T12:00:00+09:00")
        status(kjLife, "2019-09-01T12:00:00+09:00")
        decision(
            "KOR → JPN on 1 Sep 2019, notice pending",
            ReleasePolicy.evaluate(
                .init(item: item, holder: .kor, recipient: .jpn, agreement: kj.id, instant: Self.at("2019-09-01T12:00:00+09:00")),
                book: book))

        heading("22 Nov 2019, 18:00 — six hours before midnight, Korea suspends its notice")
        status(kjLife, "2019-11-24T12:00:00+09:00")
        decision(
            "KOR → JPN on 24 Nov 2019",
            ReleasePolicy.evaluate(
                .init(item: item, holder: .kor, recipient: .jpn, agreement: kj.id, instant: Self.at("2019-11-24T12:00:00+09:00")),
                book: book))

        heading("What if Korea had not suspended it? (the same statements, less the suspension)")
        let withoutSuspension = set.statements[kj.id]!.filter { $0.id != "kor-suspension-2019" }
        let what = set.book(replacing: [kj.id: withoutSuspension])
        status(what[kj.id]!, "2019-11-24T12:00:00+09:00")
        decision(
            "KOR → JPN on 24 Nov 2019",
            ReleasePolicy.evaluate(
                .init(item: item, holder: .kor, recipient: .jpn, agreement: kj.id, instant: Self.at("2019-11-24T12:00:00+09:00")),
                book: what))
        decision(
            "Sato reads the 2017 assessment after termination (protection survives, Art 21)",
            AccessPolicy.evaluate(
                .init(reader: readers[0], item: item, node: .jpn, localScheme: jpnScheme, agreement: kj, instant: Self.at("2019-11-24T12:00:00+09:00"))))
        decision(
            "Suzuki reads it after termination",
            AccessPolicy.evaluate(
                .init(reader: readers[1], item: item, node: .jpn, localScheme: jpnScheme, agreement: kj, instant: Self.at("2019-11-24T12:00:00+09:00"))))

        heading("And if Korea lifted the suspension on 1 Jun 2020? (terminable at will)")
        let lift = LifecycleStatement(
            id: "kor-lift-2020", agreement: kj.id, party: .kor, at: Self.at("2020-06-01T09:00:00+09:00"),
            act: .suspensionLifted(notice: "kor-notice-2019", effective: nil))
        let lifted = set.book(replacing: [kj.id: set.statements[kj.id]! + [lift]])
        status(lifted[kj.id]!, "2020-06-01T12:00:00+09:00")

        heading("TISA (29 Dec 2014) — Korea shares through the US hub")
        let t2019 = Self.at("2019-11-24T12:00:00+09:00")
        let consent = Consent(
            id: "kor-consent-0001", originator: .kor, itemDigest: item.digest, holder: .usa, thirdParty: .jpn,
            purpose: "dprk-nuclear-missile", issuedAt: Self.at("2019-11-24T09:00:00+09:00"),
            expiresAt: Self.at("2019-12-24T09:00:00+09:00"))
        decision(
            "KOR → JPN directly under TISA",
            ReleasePolicy.evaluate(.init(item: item, holder: .kor, recipient: .jpn, agreement: tisa.id, instant: t2019), book: book))
        decision(
            "KOR → USA (hub) under TISA",
            ReleasePolicy.evaluate(.init(item: item, holder: .kor, recipient: .usa, agreement: tisa.id, instant: t2019), book: book))
        decision(
            "USA → JPN without Korea's consent",
            ReleasePolicy.evaluate(.init(item: item, holder: .usa, recipient: .jpn, agreement: tisa.id, instant: t2019), book: book))
        decision(
            "USA → JPN with Korea's consent \(consent.id)",
            ReleasePolicy.evaluate(
                .init(item: item, holder: .usa, recipient: .jpn, agreement: tisa.id, instant: t2019, consents: [consent]), book: book))
        decision(
            "USA → JPN with the same consent after it expired",
            ReleasePolicy.evaluate(
                .init(item: item, holder: .usa, recipient: .jpn, agreement: tisa.id, instant: Self.at("2020-01-10T12:00:00+09:00"), consents: [consent]),
                book: book))
        let training = label(
            originator: .kor, level: "III", releasableTo: [.usa, .jpn], purpose: "joint-training",
            created: "2019-11-24T09:00:00+09:00")
        decision(
            "KOR → USA under TISA, an item for another purpose",
            ReleasePolicy.evaluate(.init(item: training, holder: .kor, recipient: .usa, agreement: tisa.id, instant: t2019), book: book))

        heading("Reclassification (Art 6(g)): only the originator, and only to a level every holder can mark")
        let holders = [Holding(party: .jpn, agreement: kj)]
        let korScheme = kj.scheme(of: .kor)!
        for (by, level) in [(Party.jpn, "III"), (Party.kor, "I"), (Party.kor, "III")] {
            decision(
                "\(by) reclassifies the assessment to \(korScheme.level(level)!.marking)",
                ReclassificationPolicy.evaluate(
                    .init(item: item, by: by, newLevel: level, originatorScheme: korScheme, holdings: holders)))
        }
        if let (received, jpnKey) = sealingStory(item: item.label, at: t2019) {
            await storeStory(received, signedBy: jpnKey, at: t2019)
        }
        emit("\nEvery decision above is computed from the agreements in Examples/; try `liaison agreement status Examples/agreements/gsomia-kor-jpn-2016.yaml --statements Examples/statements/gsomia-kor-jpn-2016.yaml --at 2019-11-22T20:00:00+09:00`.")
    }

    /// The same hub story with real keys: KOR seals, the US forwards with
    /// KOR's signed consent, and Japan's node checks KOR's seal and consent
    /// itself against the keys its agreements pin.
    func sealingStory(item label: SecurityLabel, at t: Date) -> (SealedItem, SigningKey)? {
        heading("Sealed and sent: KOR → USA → JPN with hybrid post-quantum signatures")
        do {
            var nodes: [Party: (signing: SigningKey, decryption: DecryptionKey)] = [:]
            for p in [Party.kor, .jpn, .usa] { nodes[p] = (try SigningKey.generate(.hybridPQ), try DecryptionKey.generate(.hybridPQ)) }
            func identity(_ p: Party) -> NodeIdentity {
                NodeIdentity(
                    party: p, signingKey: nodes[p]!.signing.verifyingKey, encryptionKey: nodes[p]!.decryption.encryptionKey,
                    rootCertificate: [], nodeCertificate: [])
            }
            // The agreements pin each node's keys (as `liaison init` prints them).
            var pinned: [Agreement] = []
            for var a in set.agreements.values {
                for i in a.parties.indices { a.parties[i].trustAnchors = identity(a.parties[i].party).anchors }
                pinned.append(a)
            }
            let book = AgreementBook(pinned.map { AgreementLifecycle(agreement: $0, statements: set.statements[$0.id] ?? []) })
            let trust = try TrustStore(agreements: pinned, identities: [.kor, .jpn, .usa].map(identity))
            let tisa = book["tisa-2014"]!.agreement
            let payload = Array("Assessment: launch of 24 Nov 2019, trajectory and range.".utf8)
            let sealed = try nodes[.kor]!.signing.sealOrigin([(label, "text/plain", payload)], originator: .kor, at: t)[0]
            line("KOR seals the item: item digest \(sealed.manifest.digestHex.prefix(16))…, label bound to the payload")
            let toHub = try nodes[.kor]!.signing.sealBatch(
                [Outgoing(item: sealed)], from: .kor, to: .usa, recipientKey: trust.encryptionKey(of: .usa), agreement: tisa,
                firstSequence: 1, at: t)
            var usa = EnvelopeOpener(me: .usa, decryptionKey: nodes[.usa]!.decryption, trust: trust, book: book)
            let atHub = try usa.open(toHub)[0].get()
            line("✔ USA opens it: \(atHub.marking)")
            let consent = try Signed(
                signing: ConsentBody(
                    Consent(
                        id: "kor-consent-0001", originator: .kor, itemDigest: sealed.manifest.digestHex, holder: .usa, thirdParty: .jpn,
                        purpose: label.purpose, issuedAt: t, expiresAt: t.addingTimeInterval(30 * 86_400))),
                with: nodes[.kor]!.signing)
            let forwardedItem = atHub.item
            var jpn = EnvelopeOpener(me: .jpn, decryptionKey: nodes[.jpn]!.decryption, trust: trust, book: book)
            var received: SealedItem?
            for (what, consents) in [("without KOR's consent", [Signed<ConsentBody>]()), ("with KOR's signed consent", [consent])] {
                let batch = try nodes[.usa]!.signing.sealBatch(
                    [Outgoing(item: forwardedItem, consents: consents)], from: .usa, to: .jpn,
                    recipientKey: trust.encryptionKey(of: .jpn), agreement: tisa, firstSequence: 1, at: t)
                switch jpn.open(batch)[0] {
                case .success(let v):
                    line("✔ JPN opens it \(what): KOR's seal and consent verified by JPN itself; marked \(v.marking.receiverLevel.marking)")
                    received = v.item
                case .failure(let e):
                    line("✘ JPN refuses it \(what): \(e.refusal.map { "\($0.article): \($0.reason)" } ?? e.reason)")
                }
            }
            line("wire size of that one-envelope batch: \(toHub.derBytes.count) bytes (two hybrid signatures, one X-Wing encapsulation)")
            return received.map { ($0, nodes[.jpn]!.signing) }
        } catch {
            line("the sealing story failed: \(error)")
            return nil
        }
    }

    /// JPN keeps what it accepted: the item in its embedded store (the
    /// payload encrypted at rest), the receipt and a read in its ledger,
    /// under a tree head its node signs; the receipt's inclusion proof is
    /// checked against that head.
    func storeStory(_ item: SealedItem, signedBy key: SigningKey, at t: Date) async {
        heading("Kept and provable: JPN's node stores the item and records it in its ledger")
        let dir = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("liaison-demo-\(UUID().uuidString.prefix(8))/jpn").path
        do {
            let store = try SQLiteStore(directory: dir, storageKey: .generate())
            let sign: TreeHeadSigner = { size, root in try Signed(signing: TreeHead(party: .jpn, size: size, root: root, at: t), with: key) }
            let digest = item.manifest.digest
            let received = LedgerEntry(kind: .itemReceived, at: t, party: .usa, subjects: [digest], detail: "tisa-2014, with KOR's consent")
            let receipt = try await store.storeItems(
                [NewItem(item, source: .received(from: .usa, agreement: "tisa-2014"), at: t)], ledger: LedgerWrite([received], sign: sign))
            let read = LedgerEntry(kind: .itemRead, at: t.addingTimeInterval(600), subjects: [digest], detail: "analyst cleared GOKUHI")
            _ = try await store.append([read], sign: sign)
            let head = try await store.latestTreeHead()!
            let index = receipt.entries.lowerBound
            let proof = try await store.inclusionProof(index: index, size: head.body.size)
            let proven = MerkleHash.root(fromLeaf: received.leafHash, index: index, size: head.body.size, path: AuditPath(proof)) == head.body.root
            let stored = try await store.item(item.manifest.itemID)
            line("✔ stored in \(dir)/node.sqlite, payload encrypted at rest (\(stored.payload == item.payload ? "reads back intact" : "DOES NOT read back"))")
            line("✔ ledger: entry \(index) records the receipt, entry \(index + 1) the read; tree head at \(head.body.size) signed by JPN")
            line("\(proven ? "✔" : "✘") the receipt's inclusion proof (\(proof.count) \(proof.count == 1 ? "hash" : "hashes")) leads to that signed root \(Hex.encode(head.body.root).prefix(16))…")
            line("try: liaison ledger verify --dir \(dir)   ·   liaison ledger proof --dir \(dir) --entry \(index)")
        } catch {
            line("the store story failed: \(error)")
        }
    }
}
