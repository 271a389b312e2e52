// Writes tcmalloc's sampled heap profile (heap_v2) and its growth stacks.
#include <gperftools/malloc_extension.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
std::vector<void*> keep;
__attribute__((noinline)) void grow(size_t n) { void* p = malloc(n); memset(p, 1, n); keep.push_back(p); }
__attribute__((noinline)) void small(int k) { for (int i = 0; i < k; i++) grow(1000); }
int main(int argc, char** argv) {
  for (int r = 0; r < 64; r++) grow((r % 4 + 1) * 100000);
  small(5000);
  std::string s, g;
  MallocExtension::instance()->GetHeapSample(&s);
  MallocExtension::instance()->GetHeapGrowthStacks(&g);
  FILE* f = fopen(argv[1], "w"); fwrite(s.data(), 1, s.size(), f); fclose(f);
  f = fopen(argv[2], "w"); fwrite(g.data(), 1, g.size(), f); fclose(f);
  return 0;
}
