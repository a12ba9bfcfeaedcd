import Foundation
import LiaisonModel
import LiaisonSealing
import Testing

@Suite("Instants")
struct InstantTests {
    /// A ledger entry whose instant lies outside the years 1 to 9999 is
    /// refused when decoded (before, Int64.max crashed the re-encoding).
    @Test(arguments: [Int64.max, Int64.min, 253_402_300_800_000, -62_135_596_800_001])
    func outOfRangeInstantsAreRefused(ms: Int64) {
        var w = DERWriter()
        w.sequence { s in
            s.integer(1)
            s.enumerated(LedgerEntry.Kind.itemRead.rawValue)
            s.integer64(ms)
            s.sequence { _ in }
            s.utf8("")
        }
        #expect(throws: SealingError.self) { _ = try LedgerEntry(canonical: w.bytes) }
    }

    /// The same for an instant in an optional field (a label's review
    /// date): decoding accepts only what encodes again to the same bytes,
    /// which a manifest's kept encoding relies on.
    @Test(arguments: [Int64.max, Int64.min, 253_402_300_800_000])
    func outOfRangeOptionalInstantsAreRefused(ms: Int64) throws {
        func label(review: Int64) -> [UInt8] {
            var w = DERWriter()
            w.sequence { s in
                s.integer(1)
                s.utf8("national:KOR")
                s.party(.kor)
                s.utf8("II")
                s.sequence { r in r.party(.jpn) }
                s.sequence { _ in }
                s.integer64(1_574_560_800_123)
                s.optional(1) { $0.integer64(review) }
            }
            return w.bytes
        }
        let good = try LabelDocument(canonical: label(review: 1_606_183_200_000))
        #expect(good.derBytes == label(review: 1_606_183_200_000))
        #expect(throws: SealingError.self) { _ = try LabelDocument(canonical: label(review: ms)) }
    }

    @Test(arguments: [Int64(0), 253_402_300_799_999, -62_135_596_800_000, 1_574_560_800_123])
    func instantsInRangeRoundTrip(ms: Int64) throws {
        let entry = LedgerEntry(kind: .itemRead, at: Instant.date(ms))
        #expect(Instant.milliseconds(try LedgerEntry(canonical: entry.derBytes).at) == ms)
    }

    @Test func unrepresentableDatesAreClampedNotCrashed() {
        #expect(!Instant.isRepresentable(Date(timeIntervalSince1970: .nan)))
        #expect(!Instant.isRepresentable(Date(timeIntervalSince1970: 1e17)))
        #expect(Instant.milliseconds(Date(timeIntervalSince1970: .infinity)) == Instant.range.upperBound)
        #expect(Instant.milliseconds(Date(timeIntervalSince1970: -1e300)) == Instant.range.lowerBound)
    }
}
