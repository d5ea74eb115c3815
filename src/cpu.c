/*
 * cpu.c — which SIMD level this CPU (and OS) can run.
 *
 * x86-64: AVX2 level = AVX2 + FMA + F16C with the OS saving YMM state (OSXSAVE and
 *         XCR0 bits 1,2). AVX-512 level additionally needs AVX512 F/BW/VL/DQ + VNNI
 *         and the OS saving opmask/ZMM state (XCR0 bits 5,6,7). The AVX-512
 *         kernels (src/simd) use VNNI, so a Skylake-X (no VNNI) runs the AVX2 kernels.
 * aarch64: NEON level = ASIMD with dot product (ASIMDDP) and half precision (FPHP,
 *         ASIMDHP) from getauxval(AT_HWCAP), as the NEON kernels are compiled for
 *         armv8.2-a+dotprod+fp16.
 * Other architectures: scalar.
 */
#include "quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

r1_isa r1_cpu_best_isa(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return R1_ISA_SCALAR;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(osxsave && avx && fma && f16c)) return R1_ISA_SCALAR;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return R1_ISA_SCALAR;          /* XMM + YMM state */
    if (__get_cpuid_max(0, NULL) < 7) return R1_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    if (!avx2) return R1_ISA_SCALAR;
    int f512 = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    int vnni = (c >> 11) & 1;
    if (f512 && dq && bw && vl && vnni && (xcr0 & 0xe6) == 0xe6) return R1_ISA_AVX512;
    return R1_ISA_AVX2;
}

/* AMX int8: cpuid(7,0).EDX bits 24 (AMX-TILE) and 25 (AMX-INT8), the OS enabling tile
 * state in XCR0 (bits 17 XTILECFG, 18 XTILEDATA), and — on Linux — the process being
 * granted the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
 * the permission is process-wide. Called once from the traits initialisation
 * (pthread_once), never from a kernel. */
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
bool r1_cpu_has_amx(void) {
#if defined(__x86_64__) && defined(__linux__)
    unsigned a, b, c, d;
    if (r1_cpu_best_isa() != R1_ISA_AVX512) return false;   /* the kernels use AVX-512 too */
    __cpuid_count(7, 0, a, b, c, d);
    if (!((d >> 24) & 1) || !((d >> 25) & 1)) return false;
    if ((xgetbv0() & (3u << 17)) != (3u << 17)) return false;
    enum { ARCH_REQ_XCOMP_PERM_ = 0x1023, XFEATURE_XTILEDATA_ = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM_, XFEATURE_XTILEDATA_) == 0;
#else
    return false;
#endif
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1 << 9)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

r1_isa r1_cpu_best_isa(void) {
    unsigned long hw = getauxval(AT_HWCAP);
    unsigned long need = HWCAP_FPHP | HWCAP_ASIMDHP | HWCAP_ASIMDDP;
    return (hw & need) == need ? R1_ISA_NEON : R1_ISA_SCALAR;
}


bool r1_cpu_has_amx(void) { return false; }
#else
r1_isa r1_cpu_best_isa(void) { return R1_ISA_SCALAR; }
bool r1_cpu_has_amx(void) { return false; }
#endif
