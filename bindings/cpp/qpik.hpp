// qpik.hpp: a header-only C++17 wrapper over the qpik C ABI (qpik.h).
//
// - Every failing call throws qpik::Error (a std::runtime_error) carrying the qpik_status and
//   qpik_last_error()'s message; nothing else is reported through return values.
// - Handles (Options, Kernel, Observation, Model, Dataset, Extraction) own their C handle, free it in the
//   destructor and are move-only. A moved-from handle is empty: using it throws
//   Error(QPIK_ERR_NULL).
// - Arrays are std::vector in row-major (C) order with an explicit shape; qpik::array_view
//   describes any other memory for the raw overloads (column-major, strided).
// - Progress callbacks are std::function returning true to go on, false to cancel. An
//   exception thrown by the callback never crosses into qpik: it cancels the call and is
//   rethrown from the wrapper after the C call returns.
//
// Thread safety is qpik.h's: const handles may be shared; an Options object must not be set
// while another call reads it.
#ifndef QPIK_HPP
#define QPIK_HPP

#include "qpik.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iomanip>
#include <locale>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

static_assert(QPIK_ABI_VERSION == 1, "qpik.hpp wraps version 1 of the qpik C ABI");

namespace qpik {

/// A failed qpik call: the status and the library's message for it.
class Error : public std::runtime_error {
  public:
    Error(qpik_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    qpik_status status() const noexcept { return status_; }
    /// "QPIK_ERR_SHAPE", ...
    const char *status_name() const noexcept {
        return qpik_status_name(static_cast<int32_t>(status_));
    }

  private:
    qpik_status status_;
};

/// Receives progress of long work; return false to cancel (the call then throws
/// Error(QPIK_ERR_CANCELLED)). Runs on the thread that made the call.
using Progress = std::function<bool(const std::string &stage, std::uint64_t done,
                                    std::uint64_t total, const std::string &message)>;

using Shape = std::vector<std::int64_t>;

namespace detail {

inline void check(qpik_status status) {
    if (status != QPIK_OK) {
        throw Error(status, qpik_last_error());
    }
}

[[noreturn]] inline void fail(qpik_status status, const std::string &message) {
    throw Error(status, message);
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> {
    static constexpr std::uint32_t value = QPIK_F32;
};
template <> struct dtype_of<double> {
    static constexpr std::uint32_t value = QPIK_F64;
};
template <> struct dtype_of<std::uint8_t> {
    static constexpr std::uint32_t value = QPIK_U8;
};

/// A string through the `buf, buf_len, needed` convention: size query, then the text.
template <class Call> std::string read_string(Call &&call) {
    std::size_t needed = 0;
    qpik_status status = call(nullptr, 0, &needed);
    if (status != QPIK_ERR_BUFFER_TOO_SMALL) {
        check(status);
        return std::string();
    }
    std::string text(needed, '\0');
    check(call(&text[0], text.size(), &needed));
    text.resize(needed > 0 ? needed - 1 : 0);
    return text;
}

inline std::string shape_text(const Shape &shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); i++) {
        s += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return s + "]";
}

/// Element count of `shape`, which must have 1..=4 dimensions of at least 1 each and
/// describe exactly `len` elements (qpik checks the rest).
inline std::size_t checked_count(const Shape &shape, std::size_t len, const char *what) {
    if (shape.empty() || shape.size() > QPIK_MAX_DIMS) {
        fail(QPIK_ERR_SHAPE, std::string(what) + ": shape " + shape_text(shape) +
                                 " must have 1 to 4 dimensions");
    }
    std::size_t count = 1;
    for (std::int64_t n : shape) {
        if (n < 1 || static_cast<std::uint64_t>(n) > len) {
            fail(QPIK_ERR_SHAPE, std::string(what) + ": shape " + shape_text(shape) +
                                     " does not fit its " + std::to_string(len) + " elements");
        }
        count *= static_cast<std::size_t>(n);
        if (count > len) {
            break;
        }
    }
    if (count != len) {
        fail(QPIK_ERR_SHAPE, std::string(what) + " holds " + std::to_string(len) +
                                 " elements but its shape " + shape_text(shape) + " needs " +
                                 std::to_string(count));
    }
    return count;
}

template <class T, class Free> struct Deleter {
    void operator()(T *p) const noexcept { Free()(p); }
};

struct ProgressContext {
    const Progress *progress;
    std::exception_ptr error;

    static std::int32_t call(void *user, const char *stage, std::uint64_t done,
                             std::uint64_t total, const char *message) noexcept {
        auto *self = static_cast<ProgressContext *>(user);
        if (self->error) {
            return 1;
        }
        try {
            return (*self->progress)(stage ? stage : "", done, total, message ? message : "")
                       ? 0
                       : 1;
        } catch (...) {
            self->error = std::current_exception();
            return 1;
        }
    }
};

/// Run `call(callback, user_data)`, rethrowing the callback's exception if it threw.
template <class Call> void with_progress(const Progress &progress, Call &&call) {
    ProgressContext ctx{&progress, nullptr};
    qpik_status status =
        progress ? call(&ProgressContext::call, static_cast<void *>(&ctx)) : call(nullptr, nullptr);
    if (ctx.error) {
        std::rethrow_exception(ctx.error);
    }
    check(status);
}

} // namespace detail

/// A dense row-major descriptor of `data` with `shape` (len = data's element count).
/// qpik never writes through descriptors of inputs, so const data is fine for them.
template <class T> qpik_array array_view(const T *data, std::size_t len, const Shape &shape) {
    qpik_array a{};
    a.data = const_cast<void *>(static_cast<const void *>(data));
    a.len = len;
    a.dtype = detail::dtype_of<T>::value;
    a.ndim = static_cast<std::uint32_t>(shape.size() > QPIK_MAX_DIMS ? 0 : shape.size());
    std::int64_t stride = 1;
    for (std::size_t d = a.ndim; d-- > 0;) {
        a.shape[d] = shape[d];
        a.strides[d] = stride;
        stride *= shape[d] > 0 ? shape[d] : 1;
    }
    return a;
}

template <class T> qpik_array array_view(const std::vector<T> &v, const Shape &shape) {
    return array_view(v.data(), v.size(), shape);
}

/// The library's version ("0.1.0") and C ABI version.
inline std::string version() { return qpik_version(); }
inline std::uint32_t abi_version() { return qpik_abi_version(); }

/// Throws unless the loaded library implements the ABI this header was written for.
inline void check_abi() {
    if (qpik_abi_version() != QPIK_ABI_VERSION) {
        detail::fail(QPIK_ERR_UNAVAILABLE,
                     "libqpik implements C ABI " + std::to_string(qpik_abi_version()) +
                         " but qpik.hpp was built for " + std::to_string(QPIK_ABI_VERSION));
    }
}

/// Key/value settings (see qpik_options_describe). Fluent: Options().set("seed", 3).set(...).
class Options {
  public:
    Options() {
        qpik_options *p = nullptr;
        detail::check(qpik_options_new(&p));
        handle_.reset(p);
    }

    Options &set(const std::string &key, const std::string &value) & {
        detail::check(qpik_options_set(handle_.get(), key.c_str(), value.c_str()));
        return *this;
    }
    Options &set(const std::string &key, const char *value) & {
        return set(key, std::string(value ? value : ""));
    }
    Options &set(const std::string &key, bool value) & {
        return set(key, std::string(value ? "true" : "false"));
    }
    template <class N, class = std::enable_if_t<std::is_arithmetic<N>::value &&
                                                !std::is_same<N, bool>::value>>
    Options &set(const std::string &key, N value) & {
        std::ostringstream os;
        os.imbue(std::locale::classic());
        os << std::setprecision(17) << +value; // + prints (u)int8_t as a number
        return set(key, os.str());
    }
    /// On a temporary: Options o = Options().set("a", "1").set("b", 2);
    template <class V> Options &&set(const std::string &key, V &&value) && {
        set(key, std::forward<V>(value));
        return std::move(*this);
    }

    /// The value as set, or the documented default.
    std::string get(const std::string &key) const {
        const qpik_options *o = handle_.get();
        return detail::read_string([&](char *buf, std::size_t len, std::size_t *needed) {
            return qpik_options_get(o, key.c_str(), buf, len, needed);
        });
    }

    /// Every option as lines key<TAB>default<TAB>description.
    static std::string describe() {
        return detail::read_string([](char *buf, std::size_t len, std::size_t *needed) {
            return qpik_options_describe(buf, len, needed);
        });
    }

    const qpik_options *raw() const noexcept { return handle_.get(); }

  private:
    struct Free {
        void operator()(qpik_options *p) const noexcept { qpik_options_free(p); }
    };
    std::unique_ptr<qpik_options, detail::Deleter<qpik_options, Free>> handle_;
};

/// Optional options for a call: an Options object, or nothing for the defaults.
class OptionsRef {
  public:
    OptionsRef() noexcept : raw_(nullptr) {}
    OptionsRef(const Options &options) noexcept : raw_(options.raw()) {} // NOLINT: implicit
    const qpik_options *raw() const noexcept { return raw_; }

  private:
    const qpik_options *raw_;
};

/// Names of the built-in catalog kernels, in catalog order.
inline std::vector<std::string> catalog() {
    std::size_t count = 0;
    detail::check(qpik_catalog_count(&count));
    std::vector<std::string> names;
    names.reserve(count);
    for (std::size_t i = 0; i < count; i++) {
        names.push_back(detail::read_string([i](char *buf, std::size_t len, std::size_t *needed) {
            return qpik_catalog_name(i, buf, len, needed);
        }));
    }
    return names;
}

/// The TOML spec of catalog kernel `name` (edit it, then Kernel::from_spec).
inline std::string catalog_spec(const std::string &name) {
    return detail::read_string([&](char *buf, std::size_t len, std::size_t *needed) {
        return qpik_catalog_spec(name.c_str(), buf, len, needed);
    });
}

/// A simulated single-impurity kernel, impurity at (rows/2, cols/2).
class Kernel {
  public:
    static Kernel from_catalog(const std::string &name, OptionsRef options = {}) {
        qpik_kernel *k = nullptr;
        detail::check(qpik_kernel_new(name.c_str(), nullptr, options.raw(), &k));
        return Kernel(k);
    }
    static Kernel from_spec(const std::string &toml, OptionsRef options = {}) {
        qpik_kernel *k = nullptr;
        detail::check(qpik_kernel_new(nullptr, toml.c_str(), options.raw(), &k));
        return Kernel(k);
    }

    qpik_kernel_info info() const {
        qpik_kernel_info info{};
        info.struct_size = sizeof info;
        detail::check(qpik_kernel_get_info(handle_.get(), &info));
        return info;
    }
    std::int64_t rows() const { return info().rows; }
    std::int64_t cols() const { return info().cols; }

    /// The image, rows x cols row-major (LDOS change in states/eV per Angstrom^2).
    template <class T = double> std::vector<T> image() const {
        qpik_kernel_info i = info();
        std::vector<T> out(static_cast<std::size_t>(i.rows * i.cols));
        image(array_view(out, {i.rows, i.cols}));
        return out;
    }
    /// The image into any layout.
    void image(const qpik_array &out) const {
        detail::check(qpik_kernel_image(handle_.get(), &out));
    }

    const qpik_kernel *raw() const noexcept { return handle_.get(); }

  private:
    explicit Kernel(qpik_kernel *k) : handle_(k) {}
    struct Free {
        void operator()(qpik_kernel *p) const noexcept { qpik_kernel_free(p); }
    };
    std::unique_ptr<qpik_kernel, detail::Deleter<qpik_kernel, Free>> handle_;
};

/// One defect of an observation: position in pixels (subpixel) and amplitude.
struct Defect {
    double row;
    double col;
    double amplitude;
};

/// A synthesised rows x cols observation of a kernel at random defects.
class Observation {
  public:
    Observation(const Kernel &kernel, std::int64_t rows, std::int64_t cols,
                OptionsRef options = {})
        : rows_(rows), cols_(cols) {
        qpik_observation *o = nullptr;
        detail::check(qpik_observation_new(kernel.raw(), rows, cols, options.raw(), &o));
        handle_.reset(o);
    }

    std::int64_t rows() const noexcept { return rows_; }
    std::int64_t cols() const noexcept { return cols_; }

    /// The observed map, rows x cols row-major.
    template <class T = double> std::vector<T> image() const {
        std::vector<T> out(count());
        qpik_array a = array_view(out, {rows_, cols_});
        detail::check(qpik_observation_image(handle_.get(), &a, nullptr));
        return out;
    }
    /// The defect mask (1 at the pixel nearest each defect), rows x cols row-major.
    std::vector<std::uint8_t> mask() const {
        std::vector<float> image(count());
        std::vector<std::uint8_t> out(count());
        qpik_array a = array_view(image, {rows_, cols_});
        qpik_array m = array_view(out, {rows_, cols_});
        detail::check(qpik_observation_image(handle_.get(), &a, &m));
        return out;
    }
    /// Both at once, into any layouts (`mask` may be null).
    void image(const qpik_array &image, const qpik_array *mask) const {
        detail::check(qpik_observation_image(handle_.get(), &image, mask));
    }

    std::vector<Defect> defects() const {
        std::size_t n = 0;
        detail::check(qpik_observation_defect_count(handle_.get(), &n));
        std::vector<Defect> out;
        if (n == 0) {
            return out;
        }
        std::vector<double> flat(n * 3);
        qpik_array a = array_view(flat, {static_cast<std::int64_t>(n), 3});
        detail::check(qpik_observation_defects(handle_.get(), &a));
        out.reserve(n);
        for (std::size_t i = 0; i < n; i++) {
            out.push_back(Defect{flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]});
        }
        return out;
    }

    const qpik_observation *raw() const noexcept { return handle_.get(); }

  private:
    std::size_t count() const { return static_cast<std::size_t>(rows_ * cols_); }
    struct Free {
        void operator()(qpik_observation *p) const noexcept { qpik_observation_free(p); }
    };
    std::int64_t rows_;
    std::int64_t cols_;
    std::unique_ptr<qpik_observation, detail::Deleter<qpik_observation, Free>> handle_;
};

/// Estimate a defect mask (1 = defect) from a rows x cols row-major observation.
template <class T>
std::vector<std::uint8_t> estimate_mask(const std::vector<T> &observation, std::int64_t rows,
                                        std::int64_t cols, std::size_t *count = nullptr) {
    detail::checked_count({rows, cols}, observation.size(), "observation");
    std::vector<std::uint8_t> mask(observation.size());
    qpik_array o = array_view(observation, {rows, cols});
    qpik_array m = array_view(mask, {rows, cols});
    detail::check(qpik_estimate_mask(&o, &m, count));
    return mask;
}

/// A loaded extraction model; one model may extract from any number of threads at once.
class Model {
  public:
    /// The model embedded in the library (Error(QPIK_ERR_UNAVAILABLE) if none).
    static Model default_model(OptionsRef options = {}) {
        qpik_model *m = nullptr;
        detail::check(qpik_model_new_default(options.raw(), &m));
        return Model(m);
    }
    static Model from_file(const std::string &path, OptionsRef options = {}) {
        qpik_model *m = nullptr;
        detail::check(qpik_model_new_from_file(path.c_str(), options.raw(), &m));
        return Model(m);
    }
    /// From the bytes of a model file (copied).
    static Model from_memory(const void *bytes, std::size_t len, OptionsRef options = {}) {
        qpik_model *m = nullptr;
        detail::check(qpik_model_new_from_memory(bytes, len, options.raw(), &m));
        return Model(m);
    }
    static Model from_memory(const std::vector<std::uint8_t> &bytes, OptionsRef options = {}) {
        return from_memory(bytes.data(), bytes.size(), options);
    }

    qpik_model_info info() const {
        qpik_model_info info{};
        info.struct_size = sizeof info;
        detail::check(qpik_model_get_info(handle_.get(), &info));
        return info;
    }
    /// Image size the model takes (size x size).
    std::int64_t size() const { return info().size; }

    /// Extract from `observation` of `shape` {size, size} or {n, size, size} (row-major),
    /// estimating the defect mask. Returns the kernel(s) in the same shape.
    template <class T>
    std::vector<T> extract(const std::vector<T> &observation, const Shape &shape,
                           qpik_extract_info *info = nullptr) const {
        detail::checked_count(shape, observation.size(), "observation");
        std::vector<T> out(observation.size());
        run(array_view(observation, shape), nullptr, array_view(out, shape), info);
        return out;
    }
    /// The same with the binary defect mask(s) of the same shape (uint8_t, float or double).
    template <class T, class M>
    std::vector<T> extract(const std::vector<T> &observation, const Shape &shape,
                           const std::vector<M> &mask, qpik_extract_info *info = nullptr) const {
        detail::checked_count(shape, observation.size(), "observation");
        detail::checked_count(shape, mask.size(), "mask");
        std::vector<T> out(observation.size());
        qpik_array m = array_view(mask, shape);
        run(array_view(observation, shape), &m, array_view(out, shape), info);
        return out;
    }
    /// Any layouts (see qpik_extract); `mask` may be null.
    void extract(const qpik_array &observation, const qpik_array *mask, const qpik_array &kernel,
                 qpik_extract_info *info = nullptr) const {
        run(observation, mask, kernel, info);
    }

    const qpik_model *raw() const noexcept { return handle_.get(); }

  private:
    explicit Model(qpik_model *m) : handle_(m) {}
    void run(const qpik_array &observation, const qpik_array *mask, const qpik_array &kernel,
             qpik_extract_info *info) const {
        if (info != nullptr) {
            *info = qpik_extract_info{};
            info->struct_size = sizeof *info;
        }
        detail::check(qpik_extract(handle_.get(), &observation, mask, &kernel, info));
    }
    struct Free {
        void operator()(qpik_model *p) const noexcept { qpik_model_free(p); }
    };
    std::unique_ptr<qpik_model, detail::Deleter<qpik_model, Free>> handle_;
};

/// Observations read from a dataset, row-major n x rows x cols.
template <class T> struct DatasetBatch {
    std::vector<T> observations;
    std::vector<std::uint8_t> masks;
    std::vector<std::uint32_t> kernel_index;
};

/// An open dataset file (HDF5, qpik-dataset v1).
class Dataset {
  public:
    static Dataset open(const std::string &path) {
        qpik_dataset *d = nullptr;
        detail::check(qpik_dataset_open(path.c_str(), &d));
        return Dataset(d);
    }

    /// Simulate a dataset into `path` (see qpik_dataset_generate for the options).
    static void generate(const std::string &path, OptionsRef options = {},
                         const Progress &progress = {}) {
        detail::with_progress(progress, [&](qpik_progress_fn fn, void *user) {
            return qpik_dataset_generate(path.c_str(), options.raw(), fn, user);
        });
    }

    /// Write your own data as a dataset: kernels k x rows x cols, observations and masks
    /// n x rows x cols (row-major), kernel_index (n values). Needs option pixel_size_a.
    template <class T, class M>
    static void write(const std::string &path, std::int64_t rows, std::int64_t cols,
                      const std::vector<T> &kernels, const std::vector<T> &observations,
                      const std::vector<M> &masks, const std::vector<std::uint32_t> &kernel_index,
                      OptionsRef options) {
        std::size_t image = static_cast<std::size_t>(rows > 0 && cols > 0 ? rows * cols : 1);
        auto n = static_cast<std::int64_t>(kernel_index.size());
        auto k = static_cast<std::int64_t>(kernels.size() / image);
        detail::checked_count({k, rows, cols}, kernels.size(), "kernels");
        detail::checked_count({n, rows, cols}, observations.size(), "observations");
        detail::checked_count({n, rows, cols}, masks.size(), "masks");
        qpik_array ka = array_view(kernels, {k, rows, cols});
        qpik_array oa = array_view(observations, {n, rows, cols});
        qpik_array ma = array_view(masks, {n, rows, cols});
        detail::check(
            qpik_dataset_write(path.c_str(), &ka, &oa, &ma, kernel_index.data(), options.raw()));
    }

    qpik_dataset_info info() const {
        qpik_dataset_info info{};
        info.struct_size = sizeof info;
        detail::check(qpik_dataset_get_info(handle_.get(), &info));
        return info;
    }

    std::string kernel_name(std::size_t index) const {
        const qpik_dataset *d = handle_.get();
        return detail::read_string([&](char *buf, std::size_t len, std::size_t *needed) {
            return qpik_dataset_kernel_name(d, index, buf, len, needed);
        });
    }
    qpik_dataset_kernel_info kernel_info(std::size_t index) const {
        qpik_dataset_kernel_info info{};
        info.struct_size = sizeof info;
        detail::check(qpik_dataset_kernel(handle_.get(), index, nullptr, &info));
        return info;
    }
    /// Kernel `index`'s image, rows x cols row-major.
    template <class T = float> std::vector<T> kernel_image(std::size_t index) const {
        qpik_dataset_info i = info();
        std::vector<T> out(static_cast<std::size_t>(i.rows * i.cols));
        qpik_array a = array_view(out, {i.rows, i.cols});
        detail::check(qpik_dataset_kernel(handle_.get(), index, &a, nullptr));
        return out;
    }

    /// Observations start .. start+n with their masks and kernel rows.
    template <class T = float> DatasetBatch<T> read(std::size_t start, std::size_t n) const {
        qpik_dataset_info i = info();
        auto rows = i.rows, cols = i.cols;
        DatasetBatch<T> b;
        std::size_t count = n * static_cast<std::size_t>(rows * cols);
        b.observations.resize(count);
        b.masks.resize(count);
        b.kernel_index.resize(n);
        Shape shape{static_cast<std::int64_t>(n), rows, cols};
        qpik_array o = array_view(b.observations, shape);
        qpik_array m = array_view(b.masks, shape);
        detail::check(qpik_dataset_read(handle_.get(), start, &o, &m, b.kernel_index.data()));
        return b;
    }

    const qpik_dataset *raw() const noexcept { return handle_.get(); }

  private:
    explicit Dataset(qpik_dataset *d) : handle_(d) {}
    struct Free {
        void operator()(qpik_dataset *p) const noexcept { qpik_dataset_free(p); }
    };
    std::unique_ptr<qpik_dataset, detail::Deleter<qpik_dataset, Free>> handle_;
};

/// The result of the map engine (qpik_extract_map): kernels of a whole dI/dV map or energy
/// stack, with the defects' positions and amplitudes, the residual and the held-out R^2.
/// Immutable: const methods may be called from several threads. Every accessor copies into
/// a new row-major vector; sizes come from info() (T types, E energies, S kernel size,
/// N defects, H x W map).
class Extraction {
  public:
    /// `map` of `shape` {H, W} or {E, H, W} (row-major; NaN = missing pixel) with the
    /// defect positions estimated from the map.
    template <class T>
    static Extraction from_map(const std::vector<T> &map, const Shape &shape,
                               OptionsRef options = {}, const Progress &progress = {}) {
        detail::checked_count(shape, map.size(), "map");
        return from_arrays(array_view(map, shape), nullptr, options, progress);
    }
    /// With a defect mask of the map's H x W (uint8_t, float or double; a value above 0.5
    /// is one defect at that pixel).
    template <class T, class M>
    static Extraction from_mask(const std::vector<T> &map, const Shape &shape,
                                const std::vector<M> &mask, OptionsRef options = {},
                                const Progress &progress = {}) {
        detail::checked_count(shape, map.size(), "map");
        if (shape.size() < 2) {
            detail::fail(QPIK_ERR_SHAPE, "map: shape " + detail::shape_text(shape) +
                                             " must be {H, W} or {E, H, W}");
        }
        Shape image(shape.end() - 2, shape.end());
        detail::checked_count(image, mask.size(), "mask");
        qpik_array m = array_view(mask, image);
        return from_arrays(array_view(map, shape), &m, options, progress);
    }
    /// With defect positions: N (row, col) pairs in pixels of the map, flattened
    /// {r0, c0, r1, c1, ...}; subpixel allowed.
    template <class T>
    static Extraction from_positions(const std::vector<T> &map, const Shape &shape,
                                     const std::vector<double> &positions,
                                     OptionsRef options = {}, const Progress &progress = {}) {
        detail::checked_count(shape, map.size(), "map");
        if (positions.size() % 2 != 0) {
            detail::fail(QPIK_ERR_SHAPE, "positions holds " + std::to_string(positions.size()) +
                                             " numbers; give (row, col) pairs");
        }
        qpik_array p = array_view(positions, {static_cast<std::int64_t>(positions.size() / 2), 2});
        return from_arrays(array_view(map, shape), &p, options, progress);
    }
    /// Any layouts (see qpik_extract_map); `defects` may be null (estimated).
    static Extraction from_arrays(const qpik_array &map, const qpik_array *defects,
                                  OptionsRef options = {}, const Progress &progress = {}) {
        qpik_extraction *ex = nullptr;
        detail::with_progress(progress, [&](qpik_progress_fn fn, void *user) {
            return qpik_extract_map_progress(options.raw(), &map, defects, &ex, fn, user);
        });
        return Extraction(ex);
    }

    qpik_extraction_info info() const {
        qpik_extraction_info info{};
        info.struct_size = sizeof info;
        detail::check(qpik_extraction_get_info(handle_.get(), &info));
        return info;
    }

    /// Kernels, T x E x S x S; impurity at (S/2, S/2); in the map's unit.
    template <class T = float> std::vector<T> kernels() const {
        qpik_extraction_info i = info();
        return read<T>(qpik_extraction_kernels, {i.types, i.energies, i.kernel_size, i.kernel_size});
    }
    /// Standard error of each kernel pixel, T x E x S x S (bootstrap spread or noise floor).
    template <class T = float> std::vector<T> kernel_std() const {
        qpik_extraction_info i = info();
        return read<T>(qpik_extraction_kernel_std,
                       {i.types, i.energies, i.kernel_size, i.kernel_size});
    }
    /// Defect positions used, N x 2 (row, col) pixels.
    template <class T = float> std::vector<T> positions() const {
        return read<T>(qpik_extraction_positions, {info().defects, 2});
    }
    /// Signed amplitudes, N x E (mean 1 per type and energy).
    template <class T = float> std::vector<T> amplitudes() const {
        qpik_extraction_info i = info();
        return read<T>(qpik_extraction_amplitudes, {i.defects, i.energies});
    }
    /// Kernel type of each defect, N values.
    std::vector<std::uint8_t> types() const {
        return read<std::uint8_t>(qpik_extraction_types, {info().defects});
    }
    /// The map minus the fitted model, E x H x W (NaN where the map is NaN).
    template <class T = float> std::vector<T> residual() const {
        qpik_extraction_info i = info();
        return read<T>(qpik_extraction_residual, {i.energies, i.rows, i.cols});
    }
    /// Held-out R^2 of each energy, E values.
    std::vector<double> heldout_r2() const {
        return read<double>(qpik_extraction_heldout_r2, {info().energies});
    }
    /// The pixels the blind search left out, H x W (1 = left out as something no kernel
    /// explains; all 0 for a forward extraction; info().excluded_pixels counts them).
    std::vector<std::uint8_t> excluded() const {
        qpik_extraction_info i = info();
        return read<std::uint8_t>(qpik_extraction_excluded, {i.rows, i.cols});
    }
    /// What was chosen automatically and why, and what was left out (one line each).
    std::string notes() const {
        const qpik_extraction *ex = handle_.get();
        return detail::read_string([ex](char *buf, std::size_t len, std::size_t *needed) {
            return qpik_extraction_notes(ex, buf, len, needed);
        });
    }

    const qpik_extraction *raw() const noexcept { return handle_.get(); }

  private:
    explicit Extraction(qpik_extraction *ex) : handle_(ex) {}
    template <class T, class Fn> std::vector<T> read(Fn fn, const Shape &shape) const {
        std::size_t count = 1;
        for (std::int64_t n : shape) {
            count *= static_cast<std::size_t>(n);
        }
        std::vector<T> out(count);
        if (count > 0) {
            qpik_array a = array_view(out, shape);
            detail::check(fn(handle_.get(), &a));
        }
        return out;
    }
    struct Free {
        void operator()(qpik_extraction *p) const noexcept { qpik_extraction_free(p); }
    };
    std::unique_ptr<qpik_extraction, detail::Deleter<qpik_extraction, Free>> handle_;
};

/// Train a model ("vae", "align" or "one-step") on a dataset file into `out_path`.
inline void train(const std::string &what, const std::string &data_path,
                  const std::string &out_path, OptionsRef options = {},
                  const Progress &progress = {}) {
    detail::with_progress(progress, [&](qpik_progress_fn fn, void *user) {
        return qpik_train(what.c_str(), data_path.c_str(), out_path.c_str(), options.raw(), fn,
                          user);
    });
}

} // namespace qpik

#endif // QPIK_HPP
