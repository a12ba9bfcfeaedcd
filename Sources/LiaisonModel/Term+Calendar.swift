public import Foundation

/// Calendar arithmetic of Art 21, in the agreement's time zone.
///
/// Anniversaries fall at local midnight of the anniversary date: an
/// agreement in force on 23 Nov 2016 (Seoul) runs its first term until
/// 2017-11-23T00:00+09:00. Entry on 29 February counts its anniversaries
/// from 28 February in common years (Foundation's calendar rule). The notice
/// deadline of an anniversary is `noticePeriodDays` calendar days before it,
/// exclusive: for 2019-11-23 and 90 days, a notice must be given before
/// 2019-08-25T00:00+09:00, i.e. by 24 August.
extension Term {
    var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// The `k`-th anniversary (k ≥ 1) of entry into force at `entry`.
    public func anniversary(_ k: Int, entry: Date) -> Date {
        let cal = calendar
        return cal.date(byAdding: .year, value: k * years, to: cal.startOfDay(for: entry))!
    }

    /// The first instant at which a notice is too late for `anniversary`.
    public func noticeDeadline(for anniversary: Date) -> Date {
        calendar.date(byAdding: .day, value: -noticePeriodDays, to: anniversary)!
    }

    /// The index of the first anniversary after `t` (at least 1).
    func nextAnniversaryIndex(after t: Date, entry: Date) -> Int {
        let elapsed = max(0, t.timeIntervalSince(entry)) / (365.2425 * 86_400 * Double(max(years, 1)))
        var k = max(1, Int(elapsed.rounded(.down)) - 1)
        while k > 1, anniversary(k - 1, entry: entry) > t { k -= 1 }
        while anniversary(k, entry: entry) <= t { k += 1 }
        return k
    }

    /// The term running at `t`: from entry or the last anniversary to the
    /// next. `nil` for an indefinite agreement.
    public func currentTerm(at t: Date, entry: Date) -> DateInterval? {
        guard renewal == .automatic else { return nil }
        let k = nextAnniversaryIndex(after: t, entry: entry)
        let start = k == 1 ? entry : anniversary(k - 1, entry: entry)
        return DateInterval(start: start, end: anniversary(k, entry: entry))
    }

    /// When a notice given at `given` takes effect: the first anniversary
    /// whose deadline it meets (a late notice counts for the anniversary
    /// after — the renewal it missed has already happened), or, with no
    /// term, `noticePeriodDays` after it is given.
    public func effectiveInstant(ofNoticeGivenAt given: Date, entry: Date) -> Date {
        switch renewal {
        case .indefinite:
            return calendar.date(byAdding: .day, value: noticePeriodDays, to: given)!
        case .automatic:
            var k = nextAnniversaryIndex(after: given, entry: entry)
            while noticeDeadline(for: anniversary(k, entry: entry)) <= given { k += 1 }
            return anniversary(k, entry: entry)
        }
    }

    /// The next deadline after `t` for a notice against an anniversary,
    /// with that anniversary. `nil` for an indefinite agreement.
    public func nextNoticeDeadline(after t: Date, entry: Date) -> (deadline: Date, anniversary: Date)? {
        guard renewal == .automatic else { return nil }
        var k = nextAnniversaryIndex(after: t, entry: entry)
        while noticeDeadline(for: anniversary(k, entry: entry)) <= t { k += 1 }
        let a = anniversary(k, entry: entry)
        return (noticeDeadline(for: a), a)
    }
}
