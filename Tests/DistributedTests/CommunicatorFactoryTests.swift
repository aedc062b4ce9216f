import Distributed
import XCTest

final class CommunicatorFactoryTests: XCTestCase {
    func testRecognisesAProcessStartedByMpirun() {
        XCTAssertTrue(CommunicatorFactory.startedByMPI(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertTrue(CommunicatorFactory.startedByMPI(environment: ["PMIX_RANK": "0"]))
        XCTAssertFalse(CommunicatorFactory.startedByMPI(environment: ["PATH": "/usr/bin", "OMPI_MCA_btl": "self"]))
        XCTAssertFalse(CommunicatorFactory.startedByMPI(environment: [:]))
    }

    func testAPlainRunGetsTheSingleProcessCommunicator() {
        let comm = CommunicatorFactory.make(environment: ["HOME": "/root"])
        XCTAssertTrue(comm is SingleProcessCommunicator)
        XCTAssertEqual(comm.size, 1)
    }
}
