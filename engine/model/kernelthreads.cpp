#include "model/kernelthreads.h"

#include <ATen/Parallel.h>

namespace corolla {

KernelPool &kernelPool()
{
    return KernelPool::shared(at::get_num_threads());
}

int kernelThreadLimit()
{
    return at::get_num_threads();
}

} // namespace corolla
