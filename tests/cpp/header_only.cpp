// Compiled alone by ctest (header.qpik_hpp.c++17) with strict warnings: qpik.hpp must stand
// on its own. Instantiates the templates so their bodies are checked too.
#include "qpik.hpp"

#include <cstdint>
#include <vector>

namespace {
[[maybe_unused]] void instantiate(const qpik::Model &m, const qpik::Kernel &k,
                                  const qpik::Observation &o, const qpik::Dataset &d,
                                  qpik::Options &opts) {
    std::vector<float> f(64 * 64);
    std::vector<double> g(64 * 64);
    std::vector<std::uint8_t> u(64 * 64);
    (void)m.extract(f, {64, 64});
    (void)m.extract(g, {64, 64}, u);
    (void)m.extract(f, {64, 64}, g);
    (void)k.image<float>();
    (void)k.image<double>();
    (void)o.image<float>();
    (void)o.defects();
    (void)d.read<double>(0, 1);
    (void)d.kernel_image<double>(0);
    (void)qpik::estimate_mask(f, 64, 64);
    {
        qpik::Extraction ex = qpik::Extraction::from_mask(f, {64, 64}, u, opts);
        (void)qpik::Extraction::from_positions(g, {1, 64, 64}, std::vector<double>{1, 2});
        (void)qpik::Extraction::from_map(f, {64, 64});
        (void)ex.kernels<double>();
        (void)ex.kernel_std();
        (void)ex.positions<double>();
        (void)ex.amplitudes();
        (void)ex.types();
        (void)ex.residual<double>();
        (void)ex.heldout_r2();
    }
    opts.set("seed", 3).set("pixel_size_a", 1.5).set("train.augment", true);
    opts.set("seed", std::uint8_t{7}).set("device", "cpu").set("size", std::string("32"));
    qpik::Options moved = qpik::Options().set("seed", 1);
    qpik::Dataset::write("x.h5", 64, 64, f, f, u, std::vector<std::uint32_t>(1), moved);
    qpik::train("vae", "d.h5", "m.safetensors", moved,
                [](const std::string &, std::uint64_t, std::uint64_t, const std::string &) {
                    return true;
                });
}
} // namespace
