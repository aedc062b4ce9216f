import Training
import XCTest

/// `--threads` is capped to the rank's share of the cores, with a warning that names what was
/// given and what is used.
final class ComputeOptionsTests: XCTestCase {
    func testThreadsAreCappedToTheRanksShareOfTheCores() {
        let cases: [(given: Int?, cores: Int, localRanks: Int, used: Int)] = [
            (nil, 2, 1, 2), (nil, 8, 2, 4), (nil, 2, 4, 1),
            (1, 2, 1, 1), (2, 2, 1, 2), (4, 2, 1, 2), (64, 2, 1, 2), (1000, 2, 1, 2),
            (4, 8, 2, 4), (3, 8, 2, 3), (2, 2, 2, 1), (2, 2, 3, 1), (5, 1, 1, 1),
        ]
        for c in cases {
            XCTAssertEqual(ComputeOptions.threads(given: c.given, cores: c.cores, localRanks: c.localRanks), c.used,
                           "given \(String(describing: c.given)), \(c.cores) cores, \(c.localRanks) local ranks")
        }
    }

    func testTheWarningNamesTheOptionTheValueGivenAndTheValueUsed() {
        XCTAssertEqual(ComputeOptions.threadsWarning(given: 64, cores: 2, localRanks: 1),
                       "warning: --threads 64 is more than this rank's share of 2 core(s); using 2")
        XCTAssertEqual(ComputeOptions.threadsWarning(given: 4, cores: 8, localRanks: 4),
                       "warning: --threads 4 is more than this rank's share of 8 core(s) shared by 4 ranks; using 2")
        for (given, cores, ranks) in [(nil, 2, 1), (2, 2, 1), (1, 2, 2), (Int?(3), 8, 2)] {
            XCTAssertNil(ComputeOptions.threadsWarning(given: given, cores: cores, localRanks: ranks),
                         "no cap: \(String(describing: given)) on \(cores) cores, \(ranks) ranks")
        }
    }

    func testAnOptionWithinTheShareIsUsedAsGiven() throws {
        let options = try ComputeOptions.parse(["--threads", "1"])
        XCTAssertEqual(options.resolvedThreads, 1)
        XCTAssertNil(options.threadsWarning)
    }
}
