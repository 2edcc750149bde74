#include "core/backbone.h"

#include <algorithm>
#include <stdexcept>

namespace dr2 {

int64_t BackboneDescription::branches() const
{
    int64_t n = 0;
    for (const auto& stage : stages)
        n += stage.branches;
    return n;
}

std::vector<int64_t> InputShape::sizes(int64_t batch) const
{
    if (frames > 0)
        return { batch, channels, frames, height, width };
    return { batch, channels, height, width };
}

namespace {

Dr2StackImpl& firstStack(Backbone& backbone)
{
    auto stacks = backbone.stacks();
    if (stacks.empty())
        throw std::logic_error("backbone " + backbone.family() + " has no stages");
    return *stacks.front();
}

} // namespace

void Backbone::setCoefficients(double alpha, double beta)
{
    for (auto* stack : stacks())
        stack->setCoefficients(alpha, beta);
}

void Backbone::setMode(ExecMode mode)
{
    for (auto* stack : stacks())
        stack->setMode(mode);
}

void Backbone::setFirstSkip(FirstSkip skip)
{
    for (auto* stack : stacks())
        stack->setFirstSkip(skip);
}

void Backbone::setRecomputeOverlap(RecomputeOverlap overlap)
{
    for (auto* stack : stacks())
        stack->setRecomputeOverlap(overlap);
}

void Backbone::setSegmentEvery(int64_t k)
{
    for (auto* stack : stacks())
        stack->setSegmentEvery(k);
}

double Backbone::alpha()
{
    return firstStack(*this).alpha();
}

double Backbone::beta()
{
    return firstStack(*this).beta();
}

ExecMode Backbone::mode()
{
    return firstStack(*this).mode();
}

FirstSkip Backbone::firstSkip()
{
    return firstStack(*this).firstSkip();
}

int64_t Backbone::branchCount()
{
    int64_t n = 0;
    for (auto* stack : stacks())
        n += stack->size();
    return n;
}

int64_t Backbone::segmentLength()
{
    // Segments are cut from the front, so the first one has the configured length (later ones may be shorter).
    return firstStack(*this).segmentLengths().front();
}

} // namespace dr2
