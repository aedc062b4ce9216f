/// Why an optional file of a run folder could not be shown; the page carries the message as a note.
struct ReportFileError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
