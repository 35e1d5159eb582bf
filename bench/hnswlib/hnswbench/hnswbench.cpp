// hnswbench: the hnswlib baseline of facematch's index benchmark (bench/hnswlib/hnswlib.go
// embeds this file, compiles it and runs it).
//
// Builds an hnswlib HierarchicalNSW index (inner-product space) over the base vectors with
// --threads threads, then, for each --ef, runs every query one after another on ONE thread and
// reports recall@k against the ground truth, mate recall (optional), QPS and latency percentiles
// as one JSON object on stdout. Diagnostics go to stderr.
//
// Build (bench/hnswlib/hnswlib.go's Build does this):
//   g++ -O3 -march=native -std=c++17 -pthread -o hnswbench hnswbench.cpp
// Headers: Debian's libhnswlib-dev (bench/hnswlib/install).
//
// File formats (little-endian):
//   vectors: "FMVEC001", u32 dim, u64 n, n*dim float32 (row-major, L2-normalised)
//   truth:   "FMGT0001", u32 k,   u64 nq, nq*k uint32 ids (exact top-k by dot product, best first);
//            nq may be smaller than the number of queries: recall covers the first nq queries
//            (exact search at 1M vectors is too slow to run for every query).
//   mates:   a truth file, one row per query: the ids of the query's true mates (any one found
//            in the top k counts); 0xFFFFFFFF pads a row and a row of only padding means the
//            query has no mate and is left out of mate recall.
//
// --save-index FILE writes the built index there (hnswlib's saveIndex; its size is then the
// reported index_bytes); --load-index FILE reads such a file instead of building (the caller
// checks that it was built from the same base vectors and parameters; build_seconds is then 0).
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &msg) {
    std::fprintf(stderr, "hnswbench: %s\n", msg.c_str());
    std::exit(2);
}

struct File {
    std::FILE *f;
    std::string path;
    File(const std::string &p, const char *mode) : f(std::fopen(p.c_str(), mode)), path(p) {
        if (!f) die("open " + p + ": " + std::strerror(errno));
    }
    ~File() { if (f) std::fclose(f); }
    void read(void *dst, size_t n) {
        if (n && std::fread(dst, 1, n, f) != n) die(path + ": short read (truncated file?)");
    }
    void expectEOF() {
        if (std::fgetc(f) != EOF) die(path + ": trailing bytes after the declared payload");
    }
};

// Little-endian readers; the benchmark only runs on little-endian machines (x86-64, arm64).
static_assert(sizeof(float) == 4, "float32 expected");

struct Vectors {
    uint32_t dim = 0;
    uint64_t n = 0;
    std::vector<float> data;
    const float *row(size_t i) const { return data.data() + i * dim; }
};

Vectors readVectors(const std::string &path) {
    File f(path, "rb");
    char magic[8];
    f.read(magic, 8);
    if (std::memcmp(magic, "FMVEC001", 8) != 0) die(path + ": not an FMVEC001 file");
    Vectors v;
    f.read(&v.dim, 4);
    f.read(&v.n, 8);
    if (v.dim == 0 || v.dim > 65536) die(path + ": bad dim " + std::to_string(v.dim));
    if (v.n > (uint64_t(1) << 34) / v.dim) die(path + ": implausible n " + std::to_string(v.n));
    v.data.resize(size_t(v.n) * v.dim);
    f.read(v.data.data(), v.data.size() * sizeof(float));
    f.expectEOF();
    return v;
}

struct Truth {
    uint32_t k = 0;
    uint64_t nq = 0;
    std::vector<uint32_t> ids;
    const uint32_t *row(size_t i) const { return ids.data() + i * k; }
};

Truth readTruth(const std::string &path) {
    File f(path, "rb");
    char magic[8];
    f.read(magic, 8);
    if (std::memcmp(magic, "FMGT0001", 8) != 0) die(path + ": not an FMGT0001 file");
    Truth t;
    f.read(&t.k, 4);
    f.read(&t.nq, 8);
    if (t.k == 0 || t.k > 100000) die(path + ": bad k " + std::to_string(t.k));
    if (t.nq > (uint64_t(1) << 32) / t.k) die(path + ": implausible nq " + std::to_string(t.nq));
    t.ids.resize(size_t(t.nq) * t.k);
    f.read(t.ids.data(), t.ids.size() * sizeof(uint32_t));
    f.expectEOF();
    return t;
}

// ParallelFor as in hnswlib's examples: numThreads std::threads pull ids from an atomic counter;
// the first exception stops the others and is rethrown.
template <class Function>
void ParallelFor(size_t start, size_t end, size_t numThreads, Function fn) {
    if (numThreads <= 1) {
        for (size_t id = start; id < end; id++) fn(id, 0);
        return;
    }
    std::vector<std::thread> threads;
    std::atomic<size_t> current(start);
    std::exception_ptr lastException = nullptr;
    std::mutex lastExceptMutex;
    for (size_t threadId = 0; threadId < numThreads; ++threadId) {
        threads.push_back(std::thread([&, threadId] {
            while (true) {
                size_t id = current.fetch_add(1);
                if (id >= end) break;
                try {
                    fn(id, threadId);
                } catch (...) {
                    std::unique_lock<std::mutex> lastExcepLock(lastExceptMutex);
                    lastException = std::current_exception();
                    current = end;  // stop the other threads
                    break;
                }
            }
        }));
    }
    for (auto &thread : threads) thread.join();
    if (lastException) std::rethrow_exception(lastException);
}

std::vector<size_t> parseList(const std::string &s) {
    std::vector<size_t> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        if (comma == std::string::npos) comma = s.size();
        std::string tok = s.substr(pos, comma - pos);
        if (tok.empty()) die("--ef: empty value in '" + s + "'");
        char *endp = nullptr;
        unsigned long v = std::strtoul(tok.c_str(), &endp, 10);
        if (*endp != '\0' || v == 0) die("--ef: bad value '" + tok + "'");
        out.push_back(v);
        pos = comma + 1;
    }
    return out;
}

size_t parsePositive(const std::string &name, const std::string &s) {
    char *endp = nullptr;
    unsigned long v = std::strtoul(s.c_str(), &endp, 10);
    if (s.empty() || *endp != '\0' || v == 0) die(name + ": bad value '" + s + "'");
    return v;
}

double percentile(std::vector<double> sorted, double p) {  // nearest-rank on a sorted copy
    if (sorted.empty()) return 0;
    std::sort(sorted.begin(), sorted.end());
    size_t rank = size_t(std::ceil(p / 100.0 * double(sorted.size())));
    if (rank < 1) rank = 1;
    if (rank > sorted.size()) rank = sorted.size();
    return sorted[rank - 1];
}

std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

const char *simdLevel() {
#if defined(USE_AVX512)
    if (AVX512Capable()) return "avx512";
#endif
#if defined(USE_AVX)
    if (AVXCapable()) return "avx";
#endif
#if defined(USE_SSE)
    return "sse";
#else
    return "none";
#endif
}

void usage() {
    std::fprintf(stderr,
                 "usage: hnswbench --base FILE --queries FILE --truth FILE [--M 16] [--efc 200]\n"
                 "                 [--threads 2] [--ef 16,32,64,128,256] [--k 10] [--mates FILE]\n"
                 "                 [--seed 100] [--no-save] [--save-index FILE | --load-index FILE]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char **argv) {
    std::string basePath, queryPath, truthPath, matesPath, savePath, loadPath;
    size_t M = 16, efc = 200, threads = 2, k = 10, seed = 100;
    std::vector<size_t> efs = {16, 32, 64, 128, 256};
    bool save = true;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--base") basePath = val();
        else if (a == "--queries") queryPath = val();
        else if (a == "--truth") truthPath = val();
        else if (a == "--mates") matesPath = val();
        else if (a == "--M") M = parsePositive(a, val());
        else if (a == "--efc") efc = parsePositive(a, val());
        else if (a == "--threads") threads = parsePositive(a, val());
        else if (a == "--k") k = parsePositive(a, val());
        else if (a == "--seed") seed = parsePositive(a, val());
        else if (a == "--ef") efs = parseList(val());
        else if (a == "--no-save") save = false;
        else if (a == "--save-index") savePath = val();
        else if (a == "--load-index") loadPath = val();
        else if (a == "-h" || a == "--help") usage();
        else die("unknown argument " + a);
    }
    if (basePath.empty() || queryPath.empty() || truthPath.empty()) usage();

    Vectors base = readVectors(basePath);
    Vectors queries = readVectors(queryPath);
    Truth truth = readTruth(truthPath);
    if (queries.dim != base.dim)
        die("queries have dim " + std::to_string(queries.dim) + ", base has " + std::to_string(base.dim));
    if (base.n == 0) die("no base vectors");
    if (base.n > UINT32_MAX) die("more than 2^32 base vectors");
    if (queries.n == 0) die("no queries");
    if (truth.nq == 0 || truth.nq > queries.n)
        die("truth has " + std::to_string(truth.nq) + " rows, queries " + std::to_string(queries.n));
    if (truth.k < k) die("truth has k=" + std::to_string(truth.k) + " < --k " + std::to_string(k));
    if (k > base.n) die("--k exceeds the number of base vectors");
    for (uint32_t id : truth.ids)
        if (id >= base.n) die("truth id " + std::to_string(id) + " out of range");
    Truth mates;
    if (!matesPath.empty()) {
        mates = readTruth(matesPath);
        if (mates.nq != queries.n)
            die("mates has " + std::to_string(mates.nq) + " rows, queries " + std::to_string(queries.n));
    }

    using clock = std::chrono::steady_clock;
    hnswlib::InnerProductSpace space(base.dim);
    using HNSW = hnswlib::HierarchicalNSW<float>;
    std::unique_ptr<HNSW> built = loadPath.empty() ? std::make_unique<HNSW>(&space, base.n, M, efc, seed)
                                                   : std::make_unique<HNSW>(&space, loadPath, false, base.n);
    HNSW &index = *built;

    double buildSeconds = 0;
    if (loadPath.empty()) {
        auto t0 = clock::now();
        ParallelFor(0, base.n, threads, [&](size_t i, size_t) { index.addPoint(base.row(i), hnswlib::labeltype(i)); });
        buildSeconds = std::chrono::duration<double>(clock::now() - t0).count();
    } else {
        if (index.cur_element_count != base.n || index.M_ != M || index.ef_construction_ != efc)
            die(loadPath + ": holds " + std::to_string(index.cur_element_count) + " vectors, M " +
                std::to_string(index.M_) + ", efc " + std::to_string(index.ef_construction_) + "; want " +
                std::to_string(base.n) + ", " + std::to_string(M) + ", " + std::to_string(efc));
    }

    // Size: saveIndex to a temporary file (hnswlib's own serialised form: level-0 block of
    // links + vector + label per element, then each element's upper-layer links), plus an
    // estimate of the in-memory footprint including per-element bookkeeping.
    size_t upperLevels = 0;
    for (size_t i = 0; i < index.cur_element_count; i++) upperLevels += size_t(index.element_levels_[i]);
    double memEstimate = double(index.cur_element_count) * double(index.size_data_per_element_) +
                         double(upperLevels) * double(index.size_links_per_element_) +
                         double(index.cur_element_count) *
                             (sizeof(int) /*element_levels_*/ + sizeof(std::mutex) /*link_list_locks_*/ +
                              sizeof(char *) /*linkLists_*/ + 40.0 /*label_lookup_ node + bucket, approx.*/);
    double indexBytes = -1;
    const char *indexBytesSource = "saveIndex";
    if (!savePath.empty()) {
        if (loadPath.empty()) index.saveIndex(savePath);
        struct stat st;
        if (stat(savePath.c_str(), &st) == 0) indexBytes = double(st.st_size);
    } else if (!loadPath.empty()) {
        struct stat st;
        if (stat(loadPath.c_str(), &st) == 0) indexBytes = double(st.st_size);
    } else if (save) {
        const char *tmpdir = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/hnswbench-XXXXXX";
        std::vector<char> name(tmpl.begin(), tmpl.end());
        name.push_back('\0');
        int fd = mkstemp(name.data());
        if (fd >= 0) {
            close(fd);
            index.saveIndex(name.data());
            struct stat st;
            if (stat(name.data(), &st) == 0) indexBytes = double(st.st_size);
            unlink(name.data());
        }
    }
    if (indexBytes < 0) {
        indexBytes = memEstimate;
        indexBytesSource = "estimate";
    }
    double vecBytes = double(base.dim) * sizeof(float);

    std::string out;
    out += "{\"n\":" + std::to_string(base.n);
    out += ",\"dim\":" + std::to_string(base.dim);
    out += ",\"nq\":" + std::to_string(queries.n);
    out += ",\"k\":" + std::to_string(k);
    out += ",\"M\":" + std::to_string(M);
    out += ",\"ef_construction\":" + std::to_string(efc);
    out += ",\"threads\":" + std::to_string(threads);
    out += ",\"simd\":\"" + std::string(simdLevel()) + "\"";
    out += ",\"build_seconds\":" + num(buildSeconds);
    out += ",\"build_vectors_per_s\":" + num(buildSeconds > 0 ? double(base.n) / buildSeconds : 0.0);
    out += ",\"index_bytes\":" + std::to_string(uint64_t(std::llround(indexBytes)));
    out += ",\"index_bytes_source\":\"" + std::string(indexBytesSource) + "\"";
    out += ",\"bytes_per_vector_beyond_vector\":" + num(indexBytes / double(base.n) - vecBytes);
    out += ",\"memory_bytes_estimate\":" + std::to_string(uint64_t(std::llround(memEstimate)));
    out += ",\"memory_bytes_per_vector_beyond_vector\":" + num(memEstimate / double(base.n) - vecBytes);
    out += ",\"qps_threads\":1";
    out += ",\"results\":[";

    // Warm-up (untimed): touches the graph and the vectors once so the first ef is not penalised.
    index.setEf(std::max<size_t>(k, efs.empty() ? k : efs[0]));
    for (size_t q = 0; q < std::min<size_t>(queries.n, 200); q++) index.searchKnn(queries.row(q), k);

    std::vector<double> lat(queries.n);
    std::vector<hnswlib::labeltype> found(queries.n * k);
    for (size_t e = 0; e < efs.size(); e++) {
        size_t ef = efs[e];
        index.setEf(ef);  // hnswlib searches with max(ef, k)
        auto start = clock::now();
        for (size_t q = 0; q < queries.n; q++) {
            auto qs = clock::now();
            auto res = index.searchKnn(queries.row(q), k);
            lat[q] = std::chrono::duration<double, std::milli>(clock::now() - qs).count();
            size_t j = 0;
            for (; !res.empty(); res.pop(), j++) found[q * k + j] = res.top().second;
            for (; j < k; j++) found[q * k + j] = hnswlib::labeltype(-1);
        }
        double total = std::chrono::duration<double>(clock::now() - start).count();

        size_t hits = 0, mateHits = 0, mated = 0;
        for (size_t q = 0; q < truth.nq; q++) {
            const uint32_t *t = truth.row(q);
            std::unordered_set<uint32_t> want(t, t + k);
            for (size_t j = 0; j < k; j++) {
                hnswlib::labeltype id = found[q * k + j];
                if (id < base.n && want.count(uint32_t(id))) hits++;
            }
        }
        if (!matesPath.empty()) {
            for (size_t q = 0; q < queries.n; q++) {
                const uint32_t *m = mates.row(q);
                bool any = false, hit = false;
                for (size_t i = 0; i < mates.k; i++) {
                    if (m[i] == UINT32_MAX) continue;
                    any = true;
                    for (size_t j = 0; j < k; j++)
                        if (found[q * k + j] == m[i]) hit = true;
                }
                mated += any;
                mateHits += any && hit;
            }
        }
        if (e) out += ",";
        out += "{\"ef\":" + std::to_string(ef);
        out += ",\"recall_at_10\":" + num(double(hits) / double(truth.nq * k));
        if (!matesPath.empty())
            out += ",\"mate_recall_at_10\":" + num(mated ? double(mateHits) / double(mated) : 0.0);
        out += ",\"qps_1thread\":" + num(double(queries.n) / total);
        out += ",\"p50_ms\":" + num(percentile(lat, 50));
        out += ",\"p99_ms\":" + num(percentile(lat, 99));
        out += "}";
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}
