// A C++17 program using an installed qpik through qpik.hpp.
#include <qpik.hpp>

#include <iostream>

int main() {
    try {
        qpik::check_abi();
        qpik::Kernel k = qpik::Kernel::from_catalog("shockley-cu111-m100meV",
                                                    qpik::Options().set("size", 32));
        qpik::Observation o(k, 48, 48, qpik::Options().set("seed", 1));
        std::cout << "qpik " << qpik::version() << ": " << qpik::catalog().size()
                  << " catalog kernels; " << o.defects().size() << " defects\n";
        try {
            qpik::Kernel::from_catalog("no-such-kernel");
            return 1;
        } catch (const qpik::Error &e) {
            std::cout << "expected error: " << e.status_name() << ": " << e.what() << "\n";
            return e.status() == QPIK_ERR_NOT_FOUND ? 0 : 1;
        }
    } catch (const std::exception &e) {
        std::cerr << "consumer_cpp: " << e.what() << "\n";
        return 1;
    }
}
