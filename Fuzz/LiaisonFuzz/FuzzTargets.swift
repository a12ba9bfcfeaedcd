import Foundation
import LiaisonModel
import LiaisonSealing

/// Fuzz targets for every decoder of untrusted input. Built with libFuzzer
/// (`scripts/fuzz`, `-D LIAISON_FUZZING -sanitize=fuzzer,address`) they are
/// entered through `LLVMFuzzerTestOneInput`; in an ordinary build the same
/// binary replays corpus files (`liaison-fuzz TARGET FILE…`), which is how
/// CI keeps the committed corpus passing without a fuzzing toolchain.
///
/// A target fails (crashes) only on an invariant breach: a decoder that
/// accepts input and does not re-encode it byte for byte, or an opener that
/// accepts a mutated envelope. Refusals are the expected outcome.
enum FuzzTarget: String, CaseIterable {
    case agreementYAML = "agreement-yaml"
    case statementsYAML = "statements-yaml"
    case der
    case envelope
    case stanag4774

    func run(_ bytes: [UInt8]) {
        switch self {
        case .agreementYAML:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = AgreementDocument.parse(SourceText(name: "fuzz.yaml", text: text)) { _ in
                throw SealingError(.malformed, "no files while fuzzing")
            }
            _ = SchemeDocument.parse(SourceText(name: "fuzz.yaml", text: text))
        case .statementsYAML:
            let text = String(decoding: bytes, as: UTF8.self)
            if case .success(let c) = StatementsDocument.parse(SourceText(name: "fuzz.yaml", text: text)) {
                _ = AgreementLifecycle(agreement: FuzzFixtures.agreement, statements: c.statements)
            }
            _ = RFC3339.parse(text)
        case .der:
            // The first byte picks the structure; the rest is the input.
            guard let selector = bytes.first else { return }
            let input = Array(bytes.dropFirst())
            switch selector % 14 {
            case 0: roundTrip(LabelDocument.self, input)
            case 1: roundTrip(ItemManifest.self, input)
            case 2: roundTrip(OriginSeal.self, input)
            case 3: roundTrip(Signed<ConsentBody>.self, input, verify: true)
            case 4: roundTrip(Signed<StatementDocument>.self, input, verify: true)
            case 5: roundTrip(Signed<ReclassificationNotice>.self, input, verify: true)
            case 6: roundTrip(Signed<DestructionRequest>.self, input, verify: true)
            case 7: roundTrip(Signed<CompromiseReport>.self, input, verify: true)
            case 8: roundTrip(SignedTreeHead.self, input, verify: true)
            case 9: roundTrip(DeliveryReceipt.self, input)
            case 10: roundTrip(KeyRotation.self, input)
            case 12: roundTrip(Signed<ConsentRequestBody>.self, input, verify: true)
            case 13: roundTrip(Signed<ConsentDenialBody>.self, input, verify: true)
            default: roundTrip(NodeIdentity.self, input)
            }
        case .envelope:
            if let batch = try? EnvelopeBatch(canonical: bytes) {
                check(batch.derBytes == bytes, "EnvelopeBatch re-encodes differently")
                var opener = FuzzFixtures.opener()
                _ = opener.open(batch)
            } else if let one = try? UnverifiedEnvelope(canonical: bytes) {
                check(one.derBytes == bytes, "StandaloneEnvelope re-encodes differently")
                var opener = FuzzFixtures.opener()
                _ = try? opener.open(one)
            }
        case .stanag4774:
            if let label = try? STANAG4774.import(String(decoding: bytes, as: UTF8.self)) {
                // Whatever was accepted exports and imports to the same label.
                guard let again = try? STANAG4774.export(label) else { return }
                check((try? STANAG4774.import(again)).map { LabelDocument($0).derBytes } == LabelDocument(label).derBytes,
                      "STANAG 4774 import/export is not stable")
            }
        }
    }

    func roundTrip<T: CanonicalValue>(_ type: T.Type, _ bytes: [UInt8], verify: Bool = false) {
        guard let value = try? T(canonical: bytes) else { return }
        check(value.derBytes == bytes, "\(T.structureName) accepted a non-canonical encoding")
    }

    func check(_ condition: Bool, _ message: String) {
        if !condition { fatalError("fuzz invariant broken: \(message)") }
    }
}

/// Fixed keys and the real agreement, as in the test vectors (seeds 1…64,
/// 65…128, 129…160), so that corpus envelopes open.
enum FuzzFixtures {
    static let korKey = try! SigningKey(suite: .hybridPQ, secretBytes: (1...64).map { UInt8($0) })
    static let jpnKey = try! SigningKey(suite: .hybridPQ, secretBytes: (65...128).map { UInt8($0) })
    static let jpnDecryption = try! DecryptionKey(suite: .hybridPQ, secretBytes: (129...160).map { UInt8($0) })

    static func scheme(_ p: Party, _ codes: [String]) -> ClassificationScheme {
        try! ClassificationScheme(
            party: p, name: p.code,
            levels: codes.enumerated().map { Level(code: $0.element, marking: $0.element, romanization: $0.element, gloss: $0.element, rank: 10 - $0.offset) })
    }

    static let agreement = Agreement(
        id: "gsomia-kor-jpn-2016", title: "fuzz",
        parties: [
            AgreementParty(party: .kor, authority: "MND", scheme: scheme(.kor, ["I", "II", "III"])),
            AgreementParty(party: .jpn, authority: "MOD", scheme: scheme(.jpn, ["KIMITSU", "GOKUHI", "HI"])),
        ],
        equivalence: EquivalenceTable(rows: [
            .init(tier: "SECRET", levels: [.kor: ["II"], .jpn: ["GOKUHI"]]),
        ]),
        term: Term(renewal: .automatic, years: 1, noticePeriodDays: 90, timeZone: TimeZone(identifier: "Asia/Seoul")!))

    static func opener() -> EnvelopeOpener {
        var trust = TrustStore()
        trust.pin(korKey.verifyingKey, of: .kor)
        trust.pin(jpnKey.verifyingKey, of: .jpn)
        let entry = [Party.kor, .jpn].map {
            LifecycleStatement(id: "sig-\($0)", agreement: agreement.id, party: $0, at: Date(timeIntervalSince1970: 1_479_859_200), act: .entryIntoForce)
        }
        return EnvelopeOpener(
            me: .jpn, decryptionKey: jpnDecryption, trust: trust,
            book: AgreementBook([AgreementLifecycle(agreement: agreement, statements: entry)]))
    }
}

#if LIAISON_FUZZING
    /// libFuzzer's entry point for a program that has its own `main`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's `main` to `<Target>_main`; hand it to libFuzzer.
    @_cdecl("LiaisonFuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        guard let name = ProcessInfo.processInfo.environment["LIAISON_FUZZ_TARGET"], FuzzTarget(rawValue: name) != nil else {
            fatalError("set LIAISON_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // Build the fixtures (keys, agreement) before fuzzing starts, so that
        // the leak checker does not count these lifelong globals.
        _ = FuzzFixtures.opener()
        _ = FuzzFixtures.agreement
        var count = argc
        var args = argv
        return LLVMFuzzerRunDriver(&count, &args) { data, size in
            let target = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["LIAISON_FUZZ_TARGET"]!)!
            target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        }
    }
#else
    @main
    struct Replay {
        static func main() {
            let args = CommandLine.arguments.dropFirst()
            guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
                print("usage: liaison-fuzz TARGET FILE… (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
                exit(2)
            }
            var count = 0
            for path in args.dropFirst() {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
                let files =
                    isDir.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
                for f in files {
                    guard let data = FileManager.default.contents(atPath: f) else { continue }
                    target.run(Array(data))
                    count += 1
                }
            }
            print("\(name): replayed \(count) inputs, no invariant broken")
        }
    }
#endif
