import Foundation
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
