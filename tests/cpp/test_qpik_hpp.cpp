// Tests of bindings/cpp/qpik.hpp: RAII handles, fluent options, vectors in and out (checked
// against the C API called directly), errors as qpik::Error with the library's message, and
// progress callbacks whose exceptions cancel the call and come back out of the wrapper.
#include "qpik.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

#ifndef QPIK_TEST_DATA_DIR
#error "define QPIK_TEST_DATA_DIR"
#endif

namespace {

int failures = 0;
long checks = 0;
const char *current = "";

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        ++checks;                                                                            \
        if (!(cond)) {                                                                       \
            ++failures;                                                                      \
            std::cerr << __FILE__ << ":" << __LINE__ << ": [" << current                     \
                      << "] FAILED: " #cond "\n";                                            \
        }                                                                                    \
    } while (0)

// `expr` must throw qpik::Error with status `want` and a message containing `needle`.
#define CHECK_THROWS(want, needle, expr)                                                   \
    do {                                                                                     \
        ++checks;                                                                            \
        try {                                                                                \
            (void)(expr);                                                                    \
            ++failures;                                                                      \
            std::cerr << __FILE__ << ":" << __LINE__ << ": [" << current                     \
                      << "] no exception from " #expr "\n";                                  \
        } catch (const qpik::Error &e) {                                                     \
            if (e.status() != (want) || std::string(e.what()).find(needle) ==             \
                                                   std::string::npos) {                      \
                ++failures;                                                                  \
                std::cerr << __FILE__ << ":" << __LINE__ << ": [" << current << "] " #expr   \
                          << " threw " << e.status_name() << ": \"" << e.what()              \
                          << "\", want " << qpik_status_name(want) << " mentioning \""     \
                          << (needle) << "\"\n";                                             \
            }                                                                                \
        }                                                                                    \
    } while (0)

std::string data(const char *name) { return std::string(QPIK_TEST_DATA_DIR) + "/" + name; }

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string &tag) {
        static std::atomic<int> n{0};
        path = fs::temp_directory_path() /
               ("qpik-cpp-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::size_t entries() const {
        return static_cast<std::size_t>(
            std::distance(fs::directory_iterator(path), fs::directory_iterator()));
    }
    std::string operator/(const std::string &name) const { return (path / name).string(); }
};

const qpik::Shape S2{64, 64};

// Fixture observations 0..n-1 (row-major float) and masks.
void fixture(std::size_t n, std::vector<float> &obs, std::vector<std::uint8_t> &masks) {
    auto b = qpik::Dataset::open(data("tiny-dataset.h5")).read<float>(0, n);
    obs = b.observations;
    masks = b.masks;
}

// ---------------------------------------------------------------------------------------

static_assert(!std::is_copy_constructible<qpik::Model>::value, "handles are move-only");
static_assert(!std::is_copy_assignable<qpik::Kernel>::value, "handles are move-only");
static_assert(!std::is_copy_constructible<qpik::Options>::value, "handles are move-only");
static_assert(!std::is_copy_constructible<qpik::Dataset>::value, "handles are move-only");
static_assert(!std::is_copy_constructible<qpik::Observation>::value, "handles are move-only");
static_assert(std::is_nothrow_move_constructible<qpik::Model>::value, "cheap moves");
static_assert(std::is_nothrow_move_assignable<qpik::Observation>::value, "cheap moves");
static_assert(std::is_base_of<std::runtime_error, qpik::Error>::value, "Error is an exception");

void versions() {
    CHECK(qpik::version() == QPIK_VERSION_STRING);
    CHECK(qpik::abi_version() == QPIK_ABI_VERSION);
    qpik::check_abi();
}

void options_fluent_and_errors() {
    qpik::Options o = qpik::Options()
                          .set("seed", 3)
                          .set("pixel_size_a", 1.25)
                          .set("train.augment", false)
                          .set("device", "cpu")
                          .set("size", std::string("16x24"))
                          .set("dataset.kernels", std::uint8_t{7});
    CHECK(o.get("seed") == "3");
    CHECK(o.get("pixel_size_a") == "1.25");
    CHECK(o.get("train.augment") == "false");
    CHECK(o.get("device") == "cpu");
    CHECK(o.get("size") == "16x24");
    CHECK(o.get("dataset.kernels") == "7");
    CHECK(o.get("train.epochs") == "10"); // default
    o.set("pixel_size_a", 0.5); // the deprecated Angstrom spelling of pixel_size_m
    CHECK(o.get("pixel_size_a") == "0.5");
    CHECK_THROWS(QPIK_ERR_OPTION_VALUE, "did you mean 0.893 Angstrom (8.93e-11 m)?",
                 o.set("pixel_size_m", 0.893));
    CHECK_THROWS(QPIK_ERR_UNKNOWN_OPTION, "qpik_options_set: unknown option 'sed'; did you mean 'seed'?",
                 o.set("sed", 1));
    CHECK_THROWS(QPIK_ERR_OPTION_VALUE, "'device' = 'gpu'", o.set("device", "gpu"));
    CHECK_THROWS(QPIK_ERR_UNKNOWN_OPTION, "qpik_options_get: unknown option 'nope'",
                 o.get("nope"));
    CHECK(o.get("device") == "cpu"); // unchanged by the refused value
    std::string d = qpik::Options::describe();
    CHECK(d.find("\ntrain.channels\t8,16,32\t") != std::string::npos);
    CHECK(d.back() == '\n');
    // Caught as the standard exception too.
    bool caught = false;
    try {
        o.set("seed", "-1");
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()).find("'seed'") != std::string::npos;
    }
    CHECK(caught);
}

void catalog_and_kernels() {
    std::vector<std::string> names = qpik::catalog();
    std::size_t count = 0;
    CHECK(qpik_catalog_count(&count) == QPIK_OK);
    CHECK(names.size() == count);
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
    const std::string name = "shockley-cu111-m100meV";
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
    std::string spec = qpik::catalog_spec(name);
    CHECK(spec.find("name = \"" + name + "\"") != std::string::npos);
    CHECK_THROWS(QPIK_ERR_NOT_FOUND, "qpik_catalog_spec: no catalog kernel is named 'nope'",
                 qpik::catalog_spec("nope"));
    CHECK_THROWS(QPIK_ERR_NOT_FOUND, "'nope'", qpik::Kernel::from_catalog("nope"));
    CHECK_THROWS(QPIK_ERR_INVALID_ARGUMENT, "kernel spec", qpik::Kernel::from_spec("[x"));

    qpik::Kernel k = qpik::Kernel::from_catalog(name, qpik::Options().set("size", 32));
    CHECK(k.rows() == 32 && k.cols() == 32);
    qpik_kernel_info info = k.info();
    CHECK(info.centre_row == 16.0 && std::fabs(info.energy_ev + 0.1) < 1e-12);
    std::vector<double> img = k.image();
    std::vector<float> imgf = k.image<float>();
    std::vector<double> direct(32 * 32);
    qpik_array a = qpik_array_2d(direct.data(), QPIK_F64, 32, 32, QPIK_ROW_MAJOR);
    CHECK(qpik_kernel_image(k.raw(), &a) == QPIK_OK);
    CHECK(img == direct);
    bool same = imgf.size() == img.size();
    for (std::size_t i = 0; same && i < img.size(); i++) {
        same = imgf[i] == static_cast<float>(img[i]);
    }
    CHECK(same);
    // The catalog's own spec gives the same kernel.
    qpik::Kernel from_spec = qpik::Kernel::from_spec(spec, qpik::Options().set("size", 32));
    CHECK(from_spec.image() == img);
    // Column-major through the raw overload.
    std::vector<double> col(32 * 32);
    k.image(qpik_array_2d(col.data(), QPIK_F64, 32, 32, QPIK_COL_MAJOR));
    CHECK(col[5 * 32 + 3] == img[3 * 32 + 5]);
}

void observations() {
    qpik::Kernel k = qpik::Kernel::from_catalog("shockley-cu111-m100meV",
                                                qpik::Options().set("size", 32));
    qpik::Options o = qpik::Options()
                          .set("seed", 11)
                          .set("defects.count_min", 4)
                          .set("defects.count_max", 6);
    qpik::Observation a(k, 40, 48, o), b(k, 40, 48, o);
    CHECK(a.rows() == 40 && a.cols() == 48);
    std::vector<double> img = a.image();
    CHECK(img.size() == 40u * 48u);
    CHECK(img == b.image()); // seeded
    std::vector<std::uint8_t> mask = a.mask();
    std::vector<qpik::Defect> defects = a.defects();
    CHECK(defects.size() >= 4 && defects.size() <= 6);
    for (const qpik::Defect &d : defects) {
        auto r = static_cast<std::size_t>(std::lround(d.row));
        auto c = static_cast<std::size_t>(std::lround(d.col));
        CHECK(r < 40 && c < 48 && mask[r * 48 + c] == 1);
        CHECK(std::fabs(d.amplitude) >= 0.5 && std::fabs(d.amplitude) <= 1.5);
    }
    CHECK_THROWS(QPIK_ERR_SHAPE, "qpik_observation_new: observation size 0 x 48",
                 qpik::Observation(k, 0, 48));
    CHECK_THROWS(QPIK_ERR_OPTION_VALUE, "defects.*",
                 qpik::Observation(k, 8, 8, qpik::Options().set("defects.count_min", 9).set(
                                                "defects.count_max", 2)));
    // A moved-from handle is empty and says so.
    qpik::Observation moved = std::move(a);
    CHECK(moved.image() == img);
    CHECK(a.raw() == nullptr); // NOLINT: use after move is the point
    CHECK_THROWS(QPIK_ERR_NULL, "observation is NULL", a.image());
}

void model_extract() {
    std::vector<float> obs;
    std::vector<std::uint8_t> masks;
    fixture(3, obs, masks);
    qpik::Model m = qpik::Model::from_file(data("tiny-two-step.safetensors"));
    qpik_model_info info = m.info();
    CHECK(info.method == 0 && info.size == 64 && m.size() == 64);

    std::vector<float> one(obs.begin(), obs.begin() + 64 * 64);
    std::vector<std::uint8_t> one_mask(masks.begin(), masks.begin() + 64 * 64);
    qpik_extract_info ei{};
    std::vector<float> k = m.extract(one, S2, one_mask, &ei);
    CHECK(k.size() == one.size());
    CHECK(ei.items == 1 && ei.mask_estimated == 0);
    // The same as the C API.
    std::vector<float> direct(64 * 64);
    qpik_array o = qpik_array_2d(one.data(), QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array mk = qpik_array_2d(one_mask.data(), QPIK_U8, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_2d(direct.data(), QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    CHECK(qpik_extract(m.raw(), &o, &mk, &ka, nullptr) == QPIK_OK);
    CHECK(k == direct);
    // float64 in and out, mask as doubles.
    std::vector<double> oned(one.begin(), one.end());
    std::vector<double> maskd(one_mask.begin(), one_mask.end());
    std::vector<double> kd = m.extract(oned, S2, maskd);
    double worst = 0;
    for (std::size_t i = 0; i < kd.size(); i++) {
        worst = std::max(worst, std::fabs(kd[i] - static_cast<double>(k[i])));
    }
    CHECK(worst < 1e-6);
    // A stack of 3, masks estimated.
    std::vector<float> stack = m.extract(obs, {3, 64, 64}, &ei);
    CHECK(stack.size() == obs.size());
    CHECK(ei.items == 3 && ei.mask_estimated == 1 && ei.defects > 0);
    std::vector<std::uint8_t> est = qpik::estimate_mask(one, 64, 64);
    std::vector<float> with_est = m.extract(one, S2, est);
    CHECK(std::equal(with_est.begin(), with_est.end(), stack.begin()));
    // From memory.
    std::ifstream f(data("tiny-two-step.safetensors"), std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                    std::istreambuf_iterator<char>());
    qpik::Model mm = qpik::Model::from_memory(bytes);
    CHECK(mm.extract(one, S2, one_mask) == k);

    // Errors: from the wrapper's own checks and from the library, with their messages.
    CHECK_THROWS(QPIK_ERR_SHAPE, "observation holds 4096 elements but its shape [64, 63]",
                 m.extract(one, {64, 63}));
    CHECK_THROWS(QPIK_ERR_SHAPE, "mask holds 4095 elements",
                 m.extract(one, S2, std::vector<std::uint8_t>(4095)));
    std::vector<float> small(32 * 32, 1.0f);
    CHECK_THROWS(QPIK_ERR_SHAPE, "qpik_extract: observation has shape [32, 32] but this model "
                                 "takes 64 x 64",
                 m.extract(small, {32, 32}));
    std::vector<float> bad = one;
    bad[100] = std::nanf("");
    CHECK_THROWS(QPIK_ERR_NOT_FINITE, "flat index 100", m.extract(bad, S2));
    std::vector<std::uint8_t> not_binary = one_mask;
    not_binary[3] = 5;
    CHECK_THROWS(QPIK_ERR_INVALID_ARGUMENT, "binary", m.extract(one, S2, not_binary));
    CHECK_THROWS(QPIK_ERR_IO, "qpik_model_new_from_file: ",
                 qpik::Model::from_file(data("no-such-model.safetensors")));
    CHECK_THROWS(QPIK_ERR_FORMAT, "model bytes",
                 qpik::Model::from_memory(std::vector<std::uint8_t>(bytes.begin(),
                                                                    bytes.begin() + 100)));
    try {
        qpik::Model d = qpik::Model::default_model();
        CHECK(d.size() == 64);
    } catch (const qpik::Error &e) {
        CHECK(e.status() == QPIK_ERR_UNAVAILABLE);
    }
    // Moved-from.
    qpik::Model moved = std::move(m);
    CHECK(moved.size() == 64);
    CHECK_THROWS(QPIK_ERR_NULL, "qpik_extract: model is NULL", m.extract(one, S2));
}

void model_shared_by_threads() {
    std::vector<float> obs;
    std::vector<std::uint8_t> masks;
    fixture(1, obs, masks);
    const qpik::Model m = qpik::Model::from_file(data("tiny-one-step.safetensors"));
    const std::vector<float> ref = m.extract(obs, S2, masks);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&] {
            for (int i = 0; i < 5; i++) {
                if (m.extract(obs, S2, masks) != ref) {
                    ++bad;
                }
            }
        });
    }
    for (auto &t : threads) {
        t.join();
    }
    CHECK(bad == 0);
}

struct CallbackFailure : std::runtime_error {
    CallbackFailure() : std::runtime_error("thrown by the progress callback") {}
};

void datasets_with_progress() {
    TempDir dir("ds");
    const std::string path = dir / "small.h5";
    qpik::Options o = qpik::Options()
                          .set("dataset.kernels", 3)
                          .set("dataset.per_kernel", 4)
                          .set("dataset.split_seed", 3) // three quick kernels
                          .set("size", 32)
                          .set("seed", 2);
    std::vector<std::string> stages;
    std::uint64_t last_done = 0, last_total = 0;
    const std::thread::id me = std::this_thread::get_id();
    bool same_thread = true;
    qpik::Dataset::generate(path, o,
                            [&](const std::string &stage, std::uint64_t done, std::uint64_t total,
                                const std::string &) {
                                if (stages.empty() || stages.back() != stage) {
                                    stages.push_back(stage);
                                }
                                same_thread = same_thread && std::this_thread::get_id() == me;
                                last_done = done;
                                last_total = total;
                                return true;
                            });
    CHECK(stages.size() == 2 && stages[1] == "synthesising observations");
    CHECK(last_done == 12 && last_total == 12);
    CHECK(same_thread);
    CHECK(dir.entries() == 1);

    qpik::Dataset ds = qpik::Dataset::open(path);
    qpik_dataset_info info = ds.info();
    CHECK(info.observations == 12 && info.kernels == 3 && info.rows == 32);
    auto batch = ds.read<double>(4, 4);
    CHECK(batch.observations.size() == 4u * 32u * 32u);
    CHECK(batch.kernel_index == std::vector<std::uint32_t>(4, 1));
    std::string kname = ds.kernel_name(1);
    CHECK(!kname.empty() && !qpik::catalog_spec(kname).empty());
    CHECK(ds.kernel_image(2).size() == 32u * 32u);
    CHECK(ds.kernel_info(0).split <= 1);
    CHECK_THROWS(QPIK_ERR_NOT_FOUND, "kernel 3", ds.kernel_name(3));
    CHECK_THROWS(QPIK_ERR_INVALID_ARGUMENT, "dataset has 12", ds.read(10, 3));

    // Returning false cancels.
    const std::string cancelled = dir / "cancelled.h5";
    int calls = 0;
    CHECK_THROWS(QPIK_ERR_CANCELLED, "qpik_dataset_generate: cancel",
                 qpik::Dataset::generate(cancelled, o,
                                         [&](const std::string &, std::uint64_t, std::uint64_t,
                                             const std::string &) { return ++calls < 2; }));
    CHECK(calls == 2);
    CHECK(dir.entries() == 1);

    // An exception in the callback cancels, is not called again, and comes back out as itself.
    calls = 0;
    bool rethrown = false;
    try {
        qpik::Dataset::generate(cancelled, o,
                                [&](const std::string &, std::uint64_t, std::uint64_t,
                                    const std::string &) -> bool {
                                    ++calls;
                                    throw CallbackFailure();
                                });
    } catch (const CallbackFailure &) {
        rethrown = true;
    } catch (const std::exception &e) {
        std::cerr << "unexpected exception: " << e.what() << "\n";
    }
    CHECK(rethrown);
    CHECK(calls == 1);
    CHECK(dir.entries() == 1);

    // Write/read round trip of caller data.
    const std::int64_t rows = 8, cols = 6;
    std::vector<double> kernels(2 * rows * cols), observations(3 * rows * cols);
    std::vector<std::uint8_t> m(3 * rows * cols, 0);
    for (std::size_t i = 0; i < kernels.size(); i++) {
        kernels[i] = std::sin(0.1 * static_cast<double>(i));
    }
    for (std::size_t i = 0; i < observations.size(); i++) {
        observations[i] = std::cos(0.2 * static_cast<double>(i));
    }
    m[5] = m[60] = m[100] = 1;
    const std::string mine = dir / "mine.h5";
    CHECK_THROWS(QPIK_ERR_OPTION_VALUE, "pixel_size_m",
                 qpik::Dataset::write(mine, rows, cols, kernels, observations, m,
                                      std::vector<std::uint32_t>{0, 1, 1}, qpik::Options()));
    CHECK_THROWS(QPIK_ERR_SHAPE, "masks holds 143 elements",
                 qpik::Dataset::write(mine, rows, cols, kernels, observations,
                                      std::vector<std::uint8_t>(143),
                                      std::vector<std::uint32_t>{0, 1, 1},
                                      qpik::Options().set("pixel_size_a", 2)));
    qpik::Dataset::write(mine, rows, cols, kernels, observations, m,
                         std::vector<std::uint32_t>{0, 1, 1},
                         qpik::Options().set("pixel_size_a", 2));
    qpik::Dataset back = qpik::Dataset::open(mine);
    CHECK(back.info().kernels == 2 && back.info().observations == 3);
    CHECK(std::fabs(back.info().pixel_size_m - 2e-10) < 1e-20);
    auto b = back.read<double>(0, 3);
    bool same = true;
    for (std::size_t i = 0; i < observations.size(); i++) {
        same = same && b.observations[i] == static_cast<double>(static_cast<float>(observations[i]));
    }
    CHECK(same);
    CHECK(b.masks == m);
    CHECK((b.kernel_index == std::vector<std::uint32_t>{0, 1, 1}));
    CHECK(back.kernel_name(1) == "kernel-1");
    CHECK_THROWS(QPIK_ERR_IO, "no such file", qpik::Dataset::open(dir / "absent.h5"));
}

void training() {
    TempDir dir("train");
    qpik::Options o = qpik::Options()
                          .set("train.epochs", 1)
                          .set("train.steps_per_epoch", 1)
                          .set("train.batch_size", 2)
                          .set("train.channels", "4,4,8");
    const std::string out = dir / "one.safetensors";
    int calls = 0;
    qpik::train("one-step", data("tiny-dataset.h5"), out, o,
                [&](const std::string &, std::uint64_t done, std::uint64_t total,
                    const std::string &) {
                    ++calls;
                    return done <= total;
                });
    CHECK(calls >= 1);
    qpik::Model m = qpik::Model::from_file(out);
    CHECK(m.info().method == 1);
    // An exception from the callback comes back out; no model is written.
    const std::string out2 = dir / "two.safetensors";
    bool rethrown = false;
    try {
        qpik::train("one-step", data("tiny-dataset.h5"), out2, o,
                    [](const std::string &, std::uint64_t, std::uint64_t,
                       const std::string &) -> bool { throw CallbackFailure(); });
    } catch (const CallbackFailure &) {
        rethrown = true;
    }
    CHECK(rethrown);
    CHECK(!fs::exists(out2));
    CHECK_THROWS(QPIK_ERR_INVALID_ARGUMENT, "qpik_train: what = 'bogus'",
                 qpik::train("bogus", data("tiny-dataset.h5"), out2, o));
}

// A cosine ring windowed to 15 x 15 at jittered grid positions (raster order) with
// amplitudes in [0.5, 1.5], a plane and a little noise: the map engine must give it back.
struct MapScene {
    static constexpr int S = 15, N = 80;
    std::vector<float> kernel, map;
    std::vector<std::uint8_t> mask;
    std::vector<double> positions, amp;
    MapScene() : kernel(S * S), map(N * N), mask(N * N) {
        const double pi = 3.14159265358979323846;
        for (int i = 0; i < S; i++) {
            for (int j = 0; j < S; j++) {
                double r = std::hypot(i - S / 2, j - S / 2);
                kernel[static_cast<std::size_t>(i * S + j)] =
                    static_cast<float>(std::cos(2 * pi * r / 5.0) * std::exp(-r * r / 12.5));
            }
        }
        std::uint64_t st = 99;
        auto rnd = [&st] {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            return static_cast<double>(st >> 11) / 9007199254740992.0;
        };
        for (int r = 0; r < N; r++) {
            for (int c = 0; c < N; c++) {
                map[static_cast<std::size_t>(r * N + c)] =
                    static_cast<float>(0.1 + 0.001 * r + 0.01 * (rnd() - 0.5));
            }
        }
        for (int gr = 5; gr < N; gr += 16) {
            for (int gc = 5; gc < N; gc += 16) {
                int pr = gr + static_cast<int>(rnd() * 5), pc = gc + static_cast<int>(rnd() * 5);
                double a = 0.5 + rnd();
                positions.push_back(pr);
                positions.push_back(pc);
                amp.push_back(a);
                mask[static_cast<std::size_t>(pr * N + pc)] = 1;
                for (int r = pr - S / 2; r <= pr + S / 2; r++) {
                    for (int c = pc - S / 2; c <= pc + S / 2; c++) {
                        if (r >= 0 && r < N && c >= 0 && c < N) {
                            map[static_cast<std::size_t>(r * N + c)] += static_cast<float>(
                                a * kernel[static_cast<std::size_t>((r - pr + S / 2) * S +
                                                                    (c - pc + S / 2))]);
                        }
                    }
                }
            }
        }
    }
};

double pearson(const std::vector<float> &a, const std::vector<float> &b) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    auto n = static_cast<double>(a.size());
    for (std::size_t i = 0; i < a.size(); i++) {
        ma += a[i] / n;
        mb += b[i] / n;
    }
    for (std::size_t i = 0; i < a.size(); i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

static_assert(!std::is_copy_constructible<qpik::Extraction>::value, "handles are move-only");
static_assert(std::is_nothrow_move_constructible<qpik::Extraction>::value, "cheap moves");

void extract_map() {
    const MapScene sc;
    const qpik::Shape shape{MapScene::N, MapScene::N};
    qpik::Options o = qpik::Options().set("map.kernel_size", 15).set("map.pixel_size_a", 2.0);
    if (std::getenv("QPIK_TEST_LIGHT") != nullptr) {
        o.set("map.bootstrap", 0);
    }
    qpik::Extraction ex = qpik::Extraction::from_mask(sc.map, shape, sc.mask, o);
    qpik_extraction_info i = ex.info();
    CHECK(i.types == 1 && i.energies == 1 && i.kernel_size == 15);
    CHECK(i.rows == MapScene::N && i.cols == MapScene::N);
    CHECK(static_cast<std::size_t>(i.defects) == sc.amp.size());
    CHECK(std::fabs(i.pixel_size_m - 2e-10) < 1e-20);
    std::vector<float> k = ex.kernels();
    CHECK(k.size() == 15u * 15u);
    CHECK(pearson(k, sc.kernel) > 0.99);
    CHECK(ex.kernel_std().size() == k.size());
    CHECK(ex.types() == std::vector<std::uint8_t>(sc.amp.size(), 0));
    std::vector<double> h = ex.heldout_r2();
    CHECK(h.size() == 1 && h[0] > 0.9 && std::fabs(h[0] - i.heldout_r2) < 1e-12);
    CHECK(ex.residual().size() == static_cast<std::size_t>(MapScene::N * MapScene::N));
    std::vector<double> pos = ex.positions<double>();
    std::vector<float> amp = ex.amplitudes();
    double mean = 0, worst_pos = 0, worst_amp = 0;
    for (double a : sc.amp) {
        mean += a / static_cast<double>(sc.amp.size());
    }
    // A mask lists defects in raster order.
    std::vector<std::size_t> order(sc.amp.size());
    for (std::size_t d = 0; d < order.size(); d++) {
        order[d] = d;
    }
    std::sort(order.begin(), order.end(), [&sc](std::size_t a, std::size_t b) {
        return sc.positions[2 * a] * MapScene::N + sc.positions[2 * a + 1] <
               sc.positions[2 * b] * MapScene::N + sc.positions[2 * b + 1];
    });
    for (std::size_t d = 0; d < sc.amp.size(); d++) {
        std::size_t t = order[d];
        worst_pos = std::max({worst_pos, std::fabs(pos[2 * d] - sc.positions[2 * t]),
                              std::fabs(pos[2 * d + 1] - sc.positions[2 * t + 1])});
        worst_amp = std::max(worst_amp, std::fabs(amp[d] - sc.amp[t] / mean));
    }
    CHECK(worst_pos < 0.25);
    CHECK(worst_amp < 0.05);
    // Forward: nothing left out; blind on a map whose last lines are constant (an aborted
    // scan): those lines come back in the mask, counted in info, named in the notes.
    CHECK(i.method == QPIK_METHOD_FORWARD && i.excluded_pixels == 0 && i.explains_little == 0);
    CHECK(ex.excluded() == std::vector<std::uint8_t>(sc.map.size(), 0));
    {
        std::vector<float> aborted(sc.map);
        std::fill(aborted.end() - 3 * MapScene::N, aborted.end(), 0.5f);
        qpik::Extraction blind = qpik::Extraction::from_map(aborted, shape, o);
        qpik_extraction_info bi = blind.info();
        std::vector<std::uint8_t> left_out = blind.excluded();
        CHECK(bi.method == QPIK_METHOD_BLIND && bi.excluded_pixels >= 3 * MapScene::N);
        CHECK(std::count(left_out.begin(), left_out.end(), 1) == bi.excluded_pixels);
        CHECK(std::count(left_out.end() - 3 * MapScene::N, left_out.end(), 1) ==
              3 * MapScene::N);
        CHECK(blind.notes().find("constant scan lines") != std::string::npos);
    }

    // The wrapper gives what the C API gives, and positions give what the mask gives.
    {
        qpik_array m = qpik::array_view(sc.map, shape);
        qpik_array d = qpik::array_view(sc.mask, shape);
        qpik_extraction *raw = nullptr;
        CHECK(qpik_extract_map(o.raw(), &m, &d, &raw) == QPIK_OK);
        std::vector<float> k2(k.size());
        qpik_array ka = qpik::array_view(k2, {15, 15});
        CHECK(qpik_extraction_kernels(raw, &ka) == QPIK_OK);
        CHECK(k2 == k);
        qpik_extraction_free(raw);
    }
    qpik::Extraction byp = qpik::Extraction::from_positions(sc.map, shape, sc.positions, o);
    CHECK(byp.kernels<double>().size() == k.size());
    CHECK(pearson(byp.kernels(), k) > 0.999);
    qpik::Extraction moved = std::move(byp);
    CHECK(moved.info().defects == i.defects);
    CHECK_THROWS(QPIK_ERR_NULL, "ex", byp.info()); // NOLINT: use after move is the test

    // A stack of two energies; progress, cancel, and a callback's exception.
    std::vector<float> stack(sc.map);
    stack.insert(stack.end(), sc.map.begin(), sc.map.end());
    int calls = 0;
    qpik::Extraction st = qpik::Extraction::from_mask(
        stack, {2, MapScene::N, MapScene::N}, sc.mask, o,
        [&calls](const std::string &, std::uint64_t, std::uint64_t, const std::string &) {
            ++calls;
            return true;
        });
    CHECK(st.info().energies == 2 && st.kernels().size() == 2u * 15u * 15u);
    CHECK(calls >= 2);
    CHECK_THROWS(QPIK_ERR_CANCELLED, "cancel",
                 qpik::Extraction::from_mask(
                     stack, {2, MapScene::N, MapScene::N}, sc.mask, o,
                     [](const std::string &, std::uint64_t, std::uint64_t,
                        const std::string &) { return false; }));
    bool rethrown = false;
    try {
        qpik::Extraction::from_mask(sc.map, shape, sc.mask, o,
                                    [](const std::string &, std::uint64_t, std::uint64_t,
                                       const std::string &) -> bool { throw CallbackFailure(); });
    } catch (const CallbackFailure &) {
        rethrown = true;
    }
    CHECK(rethrown);

    // Bad input.
    CHECK_THROWS(QPIK_ERR_SHAPE, "smaller than the 15 x 15 kernel",
                 qpik::Extraction::from_map(std::vector<float>(100, 1.0f), {10, 10}, o));
    CHECK_THROWS(QPIK_ERR_INVALID_ARGUMENT, "marks no defect",
                 qpik::Extraction::from_mask(sc.map, shape,
                                             std::vector<std::uint8_t>(sc.mask.size()), o));
    CHECK_THROWS(QPIK_ERR_INVALID_ARGUMENT, "outside",
                 qpik::Extraction::from_positions(sc.map, shape, {5, 5, 1000, 5}, o));
    CHECK_THROWS(QPIK_ERR_SHAPE, "pairs",
                 qpik::Extraction::from_positions(sc.map, shape, {5, 5, 6}, o));
    CHECK_THROWS(QPIK_ERR_SHAPE, "mask", qpik::Extraction::from_mask(
                                             sc.map, shape, std::vector<double>(10), o));
    CHECK_THROWS(QPIK_ERR_OPTION_VALUE, "map.energies_ev",
                 qpik::Extraction::from_mask(sc.map, shape, sc.mask,
                                             qpik::Options().set("map.energies_ev", "1,2")));
}

} // namespace

int main(int argc, char **argv) {
    struct Case {
        const char *name;
        void (*fn)();
    };
    const Case cases[] = {
        {"versions", versions},
        {"options_fluent_and_errors", options_fluent_and_errors},
        {"catalog_and_kernels", catalog_and_kernels},
        {"observations", observations},
        {"model_extract", model_extract},
        {"model_shared_by_threads", model_shared_by_threads},
        {"datasets_with_progress", datasets_with_progress},
        {"training", training},
        {"extract_map", extract_map},
    };
    int ran = 0;
    for (const Case &c : cases) {
        if (argc > 1 && std::strcmp(argv[1], c.name) != 0) {
            continue;
        }
        current = c.name;
        int before = failures;
        try {
            c.fn();
        } catch (const std::exception &e) {
            ++failures;
            std::cerr << "[" << c.name << "] unexpected exception: " << e.what() << "\n";
        }
        ++ran;
        std::cout << (failures == before ? "ok   " : "FAIL ") << c.name << "\n";
    }
    if (ran == 0) {
        std::cerr << "no test named " << (argc > 1 ? argv[1] : "") << "\n";
        return 2;
    }
    std::cout << ran << " case(s), " << checks << " check(s), " << failures << " failure(s)\n";
    return failures == 0 ? 0 : 1;
}
