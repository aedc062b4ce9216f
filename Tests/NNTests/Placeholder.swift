import XCTest

final class NNPlaceholderTests: XCTestCase {}
