import XCTest

final class TrainingPlaceholderTests: XCTestCase {}
