internal import Crypto
internal import Foundation
internal import LiaisonModel
internal import LiaisonSealing

/// `liaison bench crypto`: single-core rates of sealing and opening, per
/// suite, single and batch mode, 1 KiB and 64 KiB payloads, printed beside
/// the raw primitive rates of the same run so the overhead shows. Each
/// figure is the median of `runs` timed runs.
public struct CryptoBench: Sendable {
    public struct Row: Sendable, Codable {
        public var name: String
        public var unit: String
        /// Median operations per second.
        public var median: Double
        public var runs: [Double]
    }

    public var runs: Int
    /// Scales the work per run (1 = the defaults, about a second per figure).
    public var scale: Double

    /// Only figures whose name contains this are measured.
    public var filter: String?

    public init(runs: Int = 3, scale: Double = 1, filter: String? = nil) {
        self.runs = max(1, runs)
        self.scale = scale
        self.filter = filter
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Times `body`, which performs `ops` operations, `runs` times.
    func measure(_ name: String, unit: String = "ops/s", ops: Int, _ body: () throws -> Void) rethrows -> Row? {
        if let filter, !name.contains(filter) { return nil }
        var rates: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rates.append(Double(ops) / seconds)
        }
        return Row(name: name, unit: unit, median: Self.median(rates), runs: rates)
    }

    func n(_ base: Int) -> Int { max(1, Int(Double(base) * scale)) }

    /// Times each of `calls` calls of `body` alone, `runs` times: rows for
    /// the 50th, 90th and 99th percentile and the slowest call, in µs, each
    /// the median over the runs. For a primitive whose time varies from call
    /// to call (ML-DSA signing rejects and retries), the tail is what a
    /// latency on its path inherits.
    func callTimes(_ name: String, calls: Int, _ body: () throws -> Void) rethrows -> [Row] {
        let names = ["p50", "p90", "p99", "max"].map { "\(name), one call, \($0)" }
        if let filter, !names.contains(where: { $0.contains(filter) }) { return [] }
        var perRun: [[Double]] = [[], [], [], []]
        for _ in 0..<runs {
            var times: [Double] = []
            times.reserveCapacity(calls)
            for _ in 0..<calls {
                let start = ContinuousClock.now
                try body()
                let elapsed = ContinuousClock.now - start
                times.append(Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
            }
            times.sort()
            // Nearest rank: the smallest time at least q of the calls did not exceed.
            for (i, q) in [0.5, 0.9, 0.99].enumerated() { perRun[i].append(times[max(0, Int((q * Double(times.count)).rounded(.up)) - 1)]) }
            perRun[3].append(times[times.count - 1])
        }
        return zip(names, perRun).map { Row(name: $0, unit: "µs", median: Self.median($1), runs: $1) }
    }

    /// Runs every figure, reporting each row as it is measured.
    public func run(report: (Row?) -> Void) throws {
        let kib = [UInt8](repeating: 0x5A, count: 1024)
        // Raw primitives.
        let ed = Curve25519.Signing.PrivateKey()
        let edSig = try ed.signature(for: kib)
        report(try measure("primitive: Ed25519 sign", ops: n(20_000)) { for _ in 0..<n(20_000) { _ = try ed.signature(for: kib) } })
        report(measure("primitive: Ed25519 verify", ops: n(10_000)) { for _ in 0..<n(10_000) { _ = ed.publicKey.isValidSignature(edSig, for: kib) } })
        let ml = try MLDSA65.PrivateKey()
        let mlSig = try ml.signature(for: kib)
        report(try measure("primitive: ML-DSA-65 sign", ops: n(600)) { for _ in 0..<n(600) { _ = try ml.signature(for: kib) } })
        report(measure("primitive: ML-DSA-65 verify", ops: n(2_000)) { for _ in 0..<n(2_000) { _ = ml.publicKey.isValidSignature(mlSig, for: kib) } })
        for row in try callTimes("primitive: ML-DSA-65 sign", calls: n(1_000), { _ = try ml.signature(for: kib) }) { report(row) }
        for row in callTimes("primitive: ML-DSA-65 verify", calls: n(1_000), { _ = ml.publicKey.isValidSignature(mlSig, for: kib) }) { report(row) }
        let xw = try XWingMLKEM768X25519.PrivateKey()
        report(try measure("primitive: X-Wing HPKE setup (seal side)", ops: n(2_000)) {
            for _ in 0..<n(2_000) { _ = try HPKE.Sender(recipientKey: xw.publicKey, ciphersuite: .XWingMLKEM768X25519_SHA256_AES_GCM_256, info: Data()) }
        })
        let enc = try HPKE.Sender(recipientKey: xw.publicKey, ciphersuite: .XWingMLKEM768X25519_SHA256_AES_GCM_256, info: Data()).encapsulatedKey
        report(try measure("primitive: X-Wing HPKE setup (open side)", ops: n(2_000)) {
            for _ in 0..<n(2_000) {
                _ = try HPKE.Recipient(privateKey: xw, ciphersuite: .XWingMLKEM768X25519_SHA256_AES_GCM_256, info: Data(), encapsulatedKey: enc)
            }
        })
        let key = SymmetricKey(size: .bits256)
        let box = try AES.GCM.seal(kib, using: key)
        report(try measure("primitive: AES-256-GCM open 1 KiB", ops: n(200_000)) { for _ in 0..<n(200_000) { _ = try AES.GCM.open(box, using: key) } })
        report(measure("primitive: SHA-256 1 KiB", ops: n(300_000)) { for _ in 0..<n(300_000) { _ = SHA256.hash(data: kib) } })
        let p384 = P384.Signing.PrivateKey()
        let pSig = try p384.signature(for: kib)
        report(try measure("primitive: ECDSA P-384 sign", ops: n(2_000)) { for _ in 0..<n(2_000) { _ = try p384.signature(for: kib) } })
        report(measure("primitive: ECDSA P-384 verify", ops: n(1_000)) { for _ in 0..<n(1_000) { _ = p384.publicKey.isValidSignature(pSig, for: kib) } })

        for suite in [CryptoSuite.hybridPQ, .classic] {
            let world = try World(suite: suite)
            for size in [1024, 65_536] {
                for batch in [1, 256] {
                    let label = "\(suite.rawValue), \(size / 1024) KiB, \(batch == 1 ? "single" : "batch of 256")"
                    let total = batch == 1 ? n(suite == .hybridPQ ? 300 : 600) : n(size > 1024 ? 2_048 : 20_480)
                    let rounds = max(1, total / batch)
                    let payloads = (0..<batch).map { i in [UInt8](repeating: UInt8(i & 0xFF), count: size) }
                    let sealName = "liaison: seal \(label)", openName = "liaison: open \(label)"
                    let decodeName = "liaison: open, decoding only, \(label)"
                    let verifyName = "liaison: open, verifying and decrypting only, \(label)"
                    if let filter, ![sealName, openName, decodeName, verifyName].contains(where: { $0.contains(filter) }) { continue }
                    var wire: [[UInt8]] = []
                    let sealRow = try measure(sealName, unit: "envelopes/s", ops: rounds * batch) {
                        wire = []
                        for _ in 0..<rounds { wire.append(try world.seal(payloads)) }
                    }
                    if sealRow == nil { for _ in 0..<rounds { wire.append(try world.seal(payloads)) } }
                    report(sealRow)
                    report(try measure(decodeName, unit: "envelopes/s", ops: rounds * batch) {
                        for bytes in wire { _ = try EnvelopeBatch(canonical: bytes) }
                    })
                    let decoded = try wire.map { try EnvelopeBatch(canonical: $0) }
                    report(try measure(verifyName, unit: "envelopes/s", ops: rounds * batch) {
                        var opener = world.opener()
                        for b in decoded { for r in opener.open(b) { _ = try r.get() } }
                    })
                    report(try measure(openName, unit: "envelopes/s", ops: rounds * batch) {
                        var opener = world.opener()
                        for bytes in wire {
                            let b = try EnvelopeBatch(canonical: bytes)
                            for r in opener.open(b) { _ = try r.get() }
                        }
                    })
                }
            }
        }
    }
}

/// Two nodes (KOR sending to JPN) with pinned keys and the real agreement.
struct World {
    let kor: SigningKey
    let jpnDecryption: DecryptionKey
    let agreement: Agreement
    let book: AgreementBook
    let trust: TrustStore
    let label: SecurityLabel
    let at = Date(timeIntervalSince1970: 1_574_560_800)  // 2019-11-24T10:00+09:00

    init(suite: CryptoSuite) throws {
        kor = try SigningKey.generate(suite)
        let jpnSigning = try SigningKey.generate(suite)
        jpnDecryption = try DecryptionKey.generate(suite)
        let korDecryption = try DecryptionKey.generate(suite)
        let scheme = { (p: Party, codes: [String]) in
            try ClassificationScheme(
                party: p, name: p.code,
                levels: codes.enumerated().map { Level(code: $0.element, marking: $0.element, romanization: $0.element, gloss: $0.element, rank: 10 - $0.offset) })
        }
        let korID = NodeIdentity(party: .kor, signingKey: kor.verifyingKey, encryptionKey: korDecryption.encryptionKey, rootCertificate: [1], nodeCertificate: [1])
        let jpnID = NodeIdentity(party: .jpn, signingKey: jpnSigning.verifyingKey, encryptionKey: jpnDecryption.encryptionKey, rootCertificate: [2], nodeCertificate: [2])
        agreement = Agreement(
            id: "bench", title: "bench",
            parties: [
                AgreementParty(party: .kor, authority: "MND", scheme: try scheme(.kor, ["I", "II", "III"]), trustAnchors: korID.anchors),
                AgreementParty(party: .jpn, authority: "MOD", scheme: try scheme(.jpn, ["KIMITSU", "GOKUHI", "HI"]), trustAnchors: jpnID.anchors),
            ],
            equivalence: EquivalenceTable(rows: [
                .init(tier: "SECRET", levels: [.kor: ["II"], .jpn: ["GOKUHI"]]),
                .init(tier: "CONFIDENTIAL", levels: [.kor: ["III"], .jpn: ["HI"]]),
            ]),
            term: Term(renewal: .indefinite, years: 0, noticePeriodDays: 90, timeZone: TimeZone(identifier: "Asia/Seoul")!),
            suite: suite)
        let statements = [Party.kor, .jpn].map {
            LifecycleStatement(id: "sig-\($0)", agreement: "bench", party: $0, at: Date(timeIntervalSince1970: 1_479_859_200), act: .entryIntoForce)
        }
        book = AgreementBook([AgreementLifecycle(agreement: agreement, statements: statements)])
        trust = try TrustStore(agreements: [agreement], identities: [korID, jpnID])
        label = try SecurityLabel(
            policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.jpn],
            categories: [.init(tag: "Compartment", kind: .restrictive, values: ["MISSILE"])], created: at)
    }

    /// Originator seal (one origin batch) and one envelope batch, to bytes.
    func seal(_ payloads: [[UInt8]]) throws -> [UInt8] {
        let items = try kor.sealOrigin(payloads.map { (label, "application/octet-stream", $0) }, originator: .kor, at: at)
        let batch = try kor.sealBatch(
            items.map { Outgoing(item: $0) }, from: .kor, to: .jpn, recipientKey: jpnDecryption.encryptionKey, agreement: agreement,
            firstSequence: 0, at: at)
        return batch.derBytes
    }

    func opener() -> EnvelopeOpener { EnvelopeOpener(me: .jpn, decryptionKey: jpnDecryption, trust: trust, book: book) }
}
