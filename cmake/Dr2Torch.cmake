# LibTorch behind one interface target, dr2::torch, so no other CMakeLists spreads ${TORCH_LIBRARIES}.
# Debian's libtorch-dev (1.13, CPU) is found without hints; for a CUDA LibTorch pass
# -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)').
find_package(Torch REQUIRED)
set_package_properties(Torch PROPERTIES TYPE REQUIRED PURPOSE "tensors, autograd and the Dr²Net engine")

add_library(dr2_torch INTERFACE)
add_library(dr2::torch ALIAS dr2_torch)
target_link_libraries(dr2_torch INTERFACE ${TORCH_LIBRARIES})
# Torch's own flags (e.g. -D_GLIBCXX_USE_CXX11_ABI for pip wheels) travel with the target.
separate_arguments(_dr2_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(dr2_torch INTERFACE ${_dr2_torch_flags})

# CUDA-specific code is compiled only when this LibTorch was built with CUDA; it still checks
# torch::cuda::is_available() at run time (core/device.cpp is the one place that does).
if(TARGET torch_cuda OR CUDA_FOUND OR TORCH_CUDA_LIBRARIES)
    set(DR2_WITH_CUDA ON)
else()
    set(DR2_WITH_CUDA OFF)
endif()
add_feature_info(CUDA DR2_WITH_CUDA "GPU memory statistics and CUDA RNG state (needs a CUDA LibTorch)")
if(DR2_WITH_CUDA)
    target_compile_definitions(dr2_torch INTERFACE DR2_WITH_CUDA=1)
endif()
