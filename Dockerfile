# DiffusionLab's web lab in a container.
#
#   docker build -t diffusionlab .                                  # CPU (default)
#   docker build --build-arg TORCH_RUNTIME=cuda -t diffusionlab:cuda .
#   docker run -p 5000:5000 diffusionlab                            # CPU
#   docker run --gpus all -p 5000:5000 diffusionlab:cuda            # NVIDIA host with the container toolkit
#   docker run -e DIFFUSIONLAB_DEVICE=cuda:1 --gpus all …             # another GPU (the CUDA image defaults to cuda)
#
# TORCH_RUNTIME becomes the MSBuild property TorchRuntime (see Directory.Build.props):
#   cpu-linux  TorchSharp + libtorch-cpu-linux-x64 (default; ~600 MB of libtorch)
#   cuda       TorchSharp-cuda-linux (libtorch built for CUDA 12.x), run on the CUDA image below
ARG TORCH_RUNTIME=cpu-linux

# ---- build -------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_RUNTIME
WORKDIR /src
COPY . .
# The lab's own web root (css, the frame player, the gallery) and the bundled models go beside
# the app; the published package assets (MudBlazor, blazor.web.js) stay in /app/wwwroot.
RUN case "$TORCH_RUNTIME" in cpu-linux|cuda) ;; *) echo "TORCH_RUNTIME must be cpu-linux or cuda, not '$TORCH_RUNTIME'" >&2; exit 1;; esac \
 && dotnet publish DiffusionLab.Web/DiffusionLab.Web.csproj -c Release -o /app -p:TorchRuntime="$TORCH_RUNTIME" \
 && cp -r wwwroot-assets /app/wwwroot-assets \
 && if [ -d models ]; then cp -r models /app/models; else mkdir -p /app/models; fi

# ---- runtime: CPU ---------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime-cpu-linux

# ---- runtime: CUDA --------------------------------------------------------------------------
# NVIDIA's CUDA 12.8 runtime with cuDNN on Ubuntu 24.04 (its libstdc++ is new enough for
# TorchSharp, so no build-time patch is needed), plus the ASP.NET Core 10 runtime copied from
# Microsoft's image.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS runtime-cuda
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libicu74 tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=mcr.microsoft.com/dotnet/aspnet:10.0 /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
# The CUDA image asks for the GPU outright: started without one (no --gpus all, no driver), the lab
# stops with one line naming DIFFUSIONLAB_DEVICE instead of computing on the CPU unannounced.
ENV DOTNET_ROOT=/usr/share/dotnet \
    DIFFUSIONLAB_DEVICE=cuda

# ---- final ----------------------------------------------------------------------------------
FROM runtime-${TORCH_RUNTIME} AS final
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://+:5000 \
    ASPNETCORE_ENVIRONMENT=Production \
    DIFFUSIONLAB_WEBROOT=/app/wwwroot-assets
# glibc's per-thread malloc arenas kept memory libtorch freed after a class left (+45 MB a wave in the
# soak of tools/load); two arenas cut that to about +11 MB.
ENV MALLOC_ARENA_MAX=2
EXPOSE 5000
ENTRYPOINT ["dotnet", "DiffusionLab.Web.dll"]
