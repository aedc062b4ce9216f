import Formats
import Foundation
import TestSupport
import XCTest
@testable import Report

final class ClassificationReportTests: XCTestCase {
    private func fixture(_ name: String) throws -> [String: Any] {
        let all = try XCTUnwrap(try reportReference()["classification"] as? [String: Any])
        return try XCTUnwrap(all[name] as? [String: Any])
    }

    private func report(_ f: [String: Any]) throws -> ClassificationReport {
        ClassificationReport(trueLabels: try XCTUnwrap(f["y_true"] as? [Int]), predictedLabels: try XCTUnwrap(f["y_pred"] as? [Int]),
                             classNames: try XCTUnwrap(f["names"] as? [String]))
    }

    /// The text equals scikit-learn's character for character: long names, a class never
    /// predicted, classes without support, at 2 and 4 digits.
    func testTextMatchesScikitLearn() throws {
        for name in ["main", "short"] {
            let f = try fixture(name)
            let r = try report(f)
            XCTAssertEqual(r.text(), f["text"] as? String, name)
            XCTAssertEqual(r.text(digits: 4), f["text_digits4"] as? String, name)
        }
    }

    /// The JSON has `output_dict=True`'s keys, in its order, with its numbers.
    func testJSONMatchesScikitLearnDict() throws {
        for name in ["main", "short"] {
            let f = try fixture(name)
            let r = try report(f)
            let expected = try XCTUnwrap(f["dict"] as? [String: Any])
            let json = r.json()
            let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            XCTAssertEqual(Set(parsed.keys), Set(expected.keys), name)
            let keyOrder = (f["names"] as! [String]) + ["accuracy", "macro avg", "weighted avg"]
            let positions = keyOrder.map { json.range(of: "\n  " + JSONText.string($0) + ": ")?.lowerBound }
            XCTAssertFalse(positions.contains(nil), name)
            XCTAssertEqual(positions.compactMap { $0 }, positions.compactMap { $0 }.sorted(), "key order \(name)")
            XCTAssertEqual((parsed["accuracy"] as? NSNumber)?.doubleValue ?? -1,
                           (expected["accuracy"] as? NSNumber)?.doubleValue ?? -2, accuracy: 1e-12)
            for key in keyOrder where key != "accuracy" {
                let got = try XCTUnwrap(parsed[key] as? [String: NSNumber], key)
                let want = try XCTUnwrap(expected[key] as? [String: NSNumber], key)
                XCTAssertEqual(Array(got.keys).sorted(), ["f1-score", "precision", "recall", "support"])
                for field in want.keys {
                    XCTAssertEqual(got[field]?.doubleValue ?? -1, want[field]!.doubleValue, accuracy: 1e-12, "\(name) \(key) \(field)")
                }
            }
            XCTAssertTrue(json.contains("\"support\": 0.0") || name == "short", "support is written as a float")
        }
    }

    func testConfusionMatrixAndBalancedAccuracy() throws {
        let f = try fixture("main")
        let r = try report(f)
        let expected = try XCTUnwrap(f["confusion"] as? [[Int]])
        XCTAssertEqual(r.confusion.counts, expected.flatMap { $0 })
        XCTAssertEqual(r.meanPerClassAccuracy, try XCTUnwrap(f["balanced_accuracy"] as? Double), accuracy: 1e-12)
        let names = try XCTUnwrap(f["names"] as? [String])
        let csv = r.confusion.csv(classNames: names)
        let lines = csv.split(separator: "\n")
        XCTAssertEqual(lines.count, names.count + 1)
        XCTAssertEqual(lines[0], "true\\predicted,Abyssinian,american_pit_bull_terrier,Bengal,staffordshire_bull_terrier,cat & <dog>,never_predicted,absent_class,x")
        XCTAssertEqual(lines[1], Substring((["Abyssinian"] + expected[0].map(String.init)).joined(separator: ",")))
        XCTAssertEqual(ConfusionMatrix(classCount: 2).csv(classNames: ["a,b", "say \"hi\""]),
                       "true\\predicted,\"a,b\",\"say \"\"hi\"\"\"\na,b\",0,0\n\"say \"\"hi\"\"\",0,0\n".replacingOccurrences(of: "\na,b\"", with: "\n\"a,b\""))
    }

    func testTopKAccuracyMatchesScikitLearnIncludingTies() throws {
        let f = try fixture("main")
        let scores = floats(f["scores"])
        let labels = try XCTUnwrap(f["y_true"] as? [Int])
        let expected = try XCTUnwrap(f["top_k"] as? [String: Double])
        for (k, want) in expected {
            XCTAssertEqual(ClassificationMetrics.topKAccuracy(scores: scores, classCount: 8, trueLabels: labels, k: Int(k)!),
                           want, accuracy: 1e-12, "k = \(k)")
        }
        // The first maximum wins ties, as in numpy.argmax.
        XCTAssertEqual(ClassificationMetrics.argmax(scores: scores, classCount: 8), f["argmax"] as? [Int])
        XCTAssertEqual(ClassificationMetrics.topKAccuracy(scores: scores, classCount: 8, trueLabels: labels, k: 8), 1)
    }

    func testEdgeCases() {
        // Everything right: all ones. Nothing: zeros, no division by zero.
        let perfect = ClassificationReport(trueLabels: [0, 1, 1], predictedLabels: [0, 1, 1], classNames: ["a", "b"])
        XCTAssertEqual(perfect.accuracy, 1)
        XCTAssertEqual(perfect.macroAverage, .init(precision: 1, recall: 1, f1Score: 1, support: 3))
        let empty = ClassificationReport(trueLabels: [], predictedLabels: [], classNames: ["a"])
        XCTAssertEqual(empty.accuracy, 0)
        XCTAssertEqual(empty.weightedAverage, .init(precision: 0, recall: 0, f1Score: 0, support: 0))
        XCTAssertEqual(empty.meanPerClassAccuracy, 0)
        XCTAssertTrue(empty.text().contains("    accuracy                           0.00         0\n"))
    }
}
