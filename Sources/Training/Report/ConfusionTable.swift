import Foundation

/// `confusion.csv` read back (as `ConfusionMatrix.csv` writes it): a header row whose first cell
/// names the axes and whose others name the predicted classes, then one row per true class led by
/// its name. Fields may be quoted, with `""` for a quote.
struct ConfusionTable {
    let rowNames: [String]
    let columnNames: [String]
    /// `values[r * columnNames.count + c]`.
    let values: [Double]

    init(csv text: String) throws {
        let records = Self.records(text).filter { !($0.count == 1 && $0[0].isEmpty) }
        guard let header = records.first, header.count >= 2 else {
            throw ReportFileError("no header row of class names")
        }
        columnNames = Array(header.dropFirst())
        var names: [String] = [], values: [Double] = []
        for (number, record) in records.dropFirst().enumerated() {
            guard record.count == header.count else {
                throw ReportFileError("row \(number + 2) has \(record.count) fields, the header \(header.count)")
            }
            names.append(record[0])
            for field in record.dropFirst() {
                guard let v = Double(field.trimmingCharacters(in: .whitespaces)) else {
                    throw ReportFileError("row \(number + 2): '\(field)' is not a number")
                }
                values.append(v)
            }
        }
        guard !names.isEmpty else { throw ReportFileError("no rows") }
        rowNames = names
        self.values = values
    }

    /// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, quotes and
    /// line breaks).
    static func records(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var quoted = false, atFieldStart = true
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? scalars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    let next = scalars.next()
                    if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = next }
                } else {
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atFieldStart: quoted = true; atFieldStart = false
            case ",": record.append(field); field = ""; atFieldStart = true
            case "\n", "\r":
                if c == "\r" { let next = scalars.next(); if next != "\n" { pending = next } }
                record.append(field); records.append(record)
                record = []; field = ""; atFieldStart = true
            default: field.unicodeScalars.append(c); atFieldStart = false
            }
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }
}
