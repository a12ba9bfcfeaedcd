public import Foundation

/// Strict RFC 3339 timestamps with an explicit offset.
///
/// Treaty dates are Seoul or Tokyo dates, so an instant without an offset is
/// ambiguous and refused. Foundation's ISO 8601 parsers accept more forms
/// than we want (missing offsets, week dates, lenient separators), so this
/// small parser accepts exactly `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
public enum RFC3339 {
    /// Parses `text`, or returns `nil` when it is not a strict RFC 3339
    /// timestamp with an offset.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                let c = b[i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                value = value * 10 + Int(c - 0x30)
            }
            return value
        }
        func byte(_ at: Int, _ expected: UInt8) -> Bool { at < b.count && b[at] == expected }
        guard let year = digits(0, 4), byte(4, UInt8(ascii: "-")),
            let month = digits(5, 2), byte(7, UInt8(ascii: "-")),
            let day = digits(8, 2), byte(10, UInt8(ascii: "T")) || byte(10, UInt8(ascii: "t")),
            let hour = digits(11, 2), byte(13, UInt8(ascii: ":")),
            let minute = digits(14, 2), byte(16, UInt8(ascii: ":")),
            let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if byte(index, UInt8(ascii: ".")) {
            index += 1
            var scale = 0.1
            let start = index
            while index < b.count, b[index] >= 0x30, b[index] <= 0x39 {
                fraction += Double(b[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start, index - start <= 9 else { return nil }
        }
        var offsetSeconds = 0
        if byte(index, UInt8(ascii: "Z")) || byte(index, UInt8(ascii: "z")) {
            index += 1
        } else if byte(index, UInt8(ascii: "+")) || byte(index, UInt8(ascii: "-")) {
            let sign = b[index] == UInt8(ascii: "+") ? 1 : -1
            guard let oh = digits(index + 1, 2), byte(index + 3, UInt8(ascii: ":")),
                let om = digits(index + 4, 2), oh < 24, om < 60
            else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
            index += 6
        } else {
            return nil
        }
        guard index == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
    }

    /// Formats `date` as RFC 3339 in `timeZone` (whole seconds), e.g.
    /// `2019-11-23T00:00:00+09:00`.
    public static func format(_ date: Date, in timeZone: TimeZone = .gmt) -> String {
        let offset = timeZone.secondsFromGMT(for: date)
        let local = Int((date.timeIntervalSince1970).rounded(.down)) + offset
        let days = floorDiv(local, 86_400)
        let secondOfDay = local - days * 86_400
        let (y, m, d) = civilFromDays(days)
        let h = secondOfDay / 3600, mi = (secondOfDay % 3600) / 60, s = secondOfDay % 60
        let zone: String
        if offset == 0 {
            zone = "Z"
        } else {
            let a = abs(offset)
            zone = (offset < 0 ? "-" : "+") + pad(a / 3600) + ":" + pad((a % 3600) / 60)
        }
        return "\(pad(y, 4))-\(pad(m))-\(pad(d))T\(pad(h)):\(pad(mi)):\(pad(s))\(zone)"
    }

    /// Formats `date` as RFC 3339 in UTC with milliseconds, as STIX and
    /// TAXII write timestamps, e.g. `2019-11-23T00:00:00.250Z` (rounded down
    /// to the millisecond).
    public static func formatMilliseconds(_ date: Date) -> String {
        // To the nearest microsecond first, so that a binary fraction just below a millisecond is not written as the one before.
        let ms = floorDiv(Int((date.timeIntervalSince1970 * 1_000_000).rounded()), 1000)
        let whole = floorDiv(ms, 1000)
        let text = format(Date(timeIntervalSince1970: TimeInterval(whole)))
        return text.dropLast() + "." + pad(ms - whole * 1000, 3) + "Z"
    }

    /// The calendar date of `date` in `timeZone`, as `YYYY-MM-DD`.
    public static func formatDate(_ date: Date, in timeZone: TimeZone) -> String {
        String(format(date, in: timeZone).prefix(10))
    }

    static func pad(_ v: Int, _ width: Int = 2) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
