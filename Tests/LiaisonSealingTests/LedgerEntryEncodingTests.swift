import Foundation
import LiaisonModel
import LiaisonSealing
import PropertyBased
import Testing

/// A ledger entry's direct encoding is byte for byte the general writer's,
/// and decodes back to the entry: lengths across the one- and two-byte
/// forms, with and without a party, instants before and after 1970.
@Suite("Ledger entry encoding")
struct LedgerEntryEncodingTests {
    static func general(_ e: LedgerEntry) throws -> [UInt8] {
        var w = DERWriter()
        try e.encode(into: &w)
        return w.bytes
    }

    @Test func theDirectEncodingIsTheCanonicalOne() async throws {
        let parties: [Party?] = [nil, .kor, .jpn, .usa]
        await propertyCheck(
            count: 300, input: Gen.int(in: 0..<LedgerEntry.Kind.allCases.count), Gen.int(in: -62_000_000_000_000...250_000_000_000_000),
            Gen.int(in: 0...3), Gen.int(in: 0...9), Gen.letterOrNumber.string(of: 0...300)
        ) { kind, ms, party, subjects, detail in
            let entry = LedgerEntry(
                kind: LedgerEntry.Kind.allCases[kind], at: Instant.date(Int64(ms)), party: parties[party],
                subjects: (0..<subjects).map { n in [UInt8](repeating: UInt8(n), count: 32) }, detail: detail)
            #expect(entry.derBytes == (try? Self.general(entry)))
            #expect((try? LedgerEntry(canonical: entry.derBytes)) == entry)
        }
    }

    @Test(arguments: [0, 1, 3, 4, 5, 127, 128, 255, 256, 70_000])
    func everyLengthFormIsWritten(detailBytes: Int) throws {
        let entry = LedgerEntry(
            kind: .itemRefused, at: Date(timeIntervalSince1970: 1_574_560_800), party: .jpn,
            subjects: Array(repeating: [UInt8](repeating: 0xAB, count: 32), count: detailBytes % 7), detail: String(repeating: "é", count: detailBytes / 2))
        #expect(try entry.derBytes == Self.general(entry))
    }
}
