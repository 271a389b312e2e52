#include <stdio.h>
#include <stdlib.h>
#include <string.h>
volatile double sink;
__attribute__((noinline)) double leaf(int n) { volatile double s = 0; for (int i = 0; i < n; i++) s += i * 0.5; return s; }
__attribute__((noinline)) double mid_a(int n) { return leaf(n) + 1; }
__attribute__((noinline)) double mid_b(int n) { return leaf(n * 2) + 2; }
__attribute__((noinline)) void *grow(size_t n) { void *p = malloc(n); memset(p, 1, n); return p; }
int main(int argc, char **argv) {
  void *keep[64];
  for (int r = 0; r < 64; r++) {
    keep[r] = grow((r % 4 + 1) * 100000);
    if (r % 2) free(grow(300000));
  }
  for (int r = 0; r < 400; r++) { sink += mid_a(200000); sink += mid_b(200000); }
  printf("%p %f\n", keep[3], sink);
  return 0;
}
